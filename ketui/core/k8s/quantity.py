"""A stored ``resource.Quantity`` as kubectl prints it.

kube-apiserver stores a quantity as text, parses that text when it reads the object
(``resource.ParseQuantity``) and prints the parsed value again: the text it prints is the
canonical form of the value (``324832000`` becomes ``324832k``, ``1024Ki`` becomes ``1Mi``,
``1.5`` becomes ``1500m``), except where the parser finds the text canonical already and keeps it
as written (``+1``, ``01``). This module reproduces that parser and printer (apimachinery's
``quantity.go``, ``amount.go``, ``suffix.go``), with exact integers: a value is an integer
mantissa times a power of ten, and exponents stay numbers (``1e999999999`` costs nothing).
"""

from __future__ import annotations

import functools
import re

__all__ = ["canonical_quantity"]

_INT64_MAX = (1 << 63) - 1
_NANO = -9
_DECIMAL_SI, _BINARY_SI, _DECIMAL_EXPONENT = "DecimalSI", "BinarySI", "DecimalExponent"

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15,
                     "E": 18}  # fmt: skip
_DECIMAL_NAMES = {exponent: name for name, exponent in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BINARY_NAMES = {exponent: name for name, exponent in _BINARY_SUFFIXES.items()}
_SUFFIX_LETTERS = frozenset("eEinumkKMGTP")
_GO_INT = re.compile(r"[+-]?[0-9]+")


def _split(text: str) -> tuple[bool, str, str, str, str] | None:
    """``parseQuantityString``: (positive, value, numerator, denominator, suffix)."""
    positive, pos, end = True, 0, len(text)
    if text[0] in "+-":
        positive = text[0] == "+"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and text[pos].isascii() and text[pos].isdigit():
        pos += 1
    num = text[start:pos] or "0"
    if pos >= end:
        return positive, text, num, "", ""
    denom = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos].isascii() and text[pos].isdigit():
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return positive, text, num, denom, ""
    value, suffix_start = text[:pos], pos
    while pos < end and text[pos] in _SUFFIX_LETTERS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end:
        if not (text[pos].isascii() and text[pos].isdigit()):
            return None  # the suffix does not end in a valid exponent
        pos += 1
    return positive, value, num, denom, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str] | None:
    """``quantitySuffixer.interpret``: (base, exponent, format)."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], _DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], _BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and _GO_INT.fullmatch(suffix[1:]):
        parsed = int(suffix[1:])
        if -(1 << 63) <= parsed <= _INT64_MAX:
            return 10, (parsed + (1 << 31)) % (1 << 32) - (1 << 31), _DECIMAL_EXPONENT  # int32()
    return None


def _strip_tens(mantissa: int, exponent: int) -> tuple[int, int]:
    while mantissa and mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    return mantissa, exponent


def _round_up_to_nano(mantissa: int, exponent: int) -> tuple[int, int]:
    """``amount.Round(amount, Nano, inf.RoundUp)``: away from zero, to a multiple of 10^-9."""
    if exponent >= _NANO or mantissa == 0:
        return mantissa, exponent
    shift = _NANO - exponent
    magnitude = abs(mantissa)
    if shift > len(str(magnitude)):
        rounded = 1  # less than 1n: every non-zero amount is at least 1n
    else:
        rounded = -(-magnitude // 10**shift)
    return (rounded if mantissa > 0 else -rounded), _NANO


def _canonical(mantissa: int, exponent: int, fmt: str) -> str:
    """``CanonicalizeBytes`` of mantissa * 10^exponent in format ``fmt``."""
    mantissa, exponent = _strip_tens(mantissa, exponent)
    if mantissa == 0:
        return "0"
    if fmt == _BINARY_SI:
        # whole numbers of at least 1024 in magnitude print in powers of 1024 (exponent >= 0
        # here: a binary amount has at most nine decimals, and a whole one has none left)
        if exponent >= 0 and abs(mantissa) * 10**exponent >= 1024:
            whole, power = mantissa * 10**exponent, 0
            while whole % 1024 == 0:
                whole //= 1024
                power += 10
            return f"{whole}{_BINARY_NAMES.get(power, '')}"
        fmt = _DECIMAL_SI
    mantissa *= 10 ** (exponent % 3)
    exponent -= exponent % 3
    if fmt == _DECIMAL_EXPONENT:
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    return f"{mantissa}{_DECIMAL_NAMES.get(exponent, '')}"  # Go prints no suffix it has no name for


@functools.lru_cache(maxsize=4096)
def canonical_quantity(text: str) -> str | None:
    """The text kubectl shows for a quantity stored as ``text``; None where kube-apiserver cannot
    parse it (it then refuses to read the object)."""
    if not text:
        return None
    if text == "0":
        return text
    split = _split(text)
    interpreted = _interpret(split[4]) if split else None
    if split is None or interpreted is None:
        return None
    positive, value, num, denom, _suffix = split
    base, exponent, fmt = interpreted
    if fmt == _BINARY_SI:
        scale, multiplier = 0, 1 << exponent
        fast = exponent >= 0 and not denom
        # 1Mi has about six decimal digits: the fast path keeps about 15 in an int64
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1 if fast else -1
    else:
        scale, multiplier = exponent, 1
        precision = 18 - (len(num) + len(denom))
    if precision >= 0 and scale - len(denom) >= _NANO:
        # the int64 fast path: exact, and the text kept where it is canonical already
        scale -= len(denom)
        shifted = num + denom
        number = int(shifted)
        if number > _INT64_MAX:
            return None
        if number * multiplier <= _INT64_MAX:
            if fmt == _BINARY_SI:
                if exponent % 10 == 0 and number & 0x07:
                    return text
            elif scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0":
                return text
            result = number * multiplier if positive else -number * multiplier
            return _canonical(result, scale, fmt)
    digits = value.lstrip("+-").replace(".", "", 1)
    if not digits:
        return None
    mantissa = int(digits) * (1 if value[0] != "-" else -1)
    decimals = len(value) - value.index(".") - 1 if "." in value else 0
    if base == 10:
        mantissa, power = _round_up_to_nano(mantissa, exponent - decimals)
    else:
        mantissa, power = _round_up_to_nano(mantissa * (1 << exponent), -decimals)
        if abs(mantissa) > _INT64_MAX * 10**-power:  # power is -9..0 here
            mantissa, power = (_INT64_MAX if mantissa > 0 else -_INT64_MAX), 0  # Go's cap
    return _canonical(mantissa, power, fmt)
