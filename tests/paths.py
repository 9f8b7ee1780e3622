"""Where the tests find the repository and the shared upstream material (never shipped)."""

from pathlib import Path

#: The repository's top folder.
REPO = Path(__file__).resolve().parent.parent
#: Upstream Kubernetes round-trip fixtures, beside the clone in CI (tests skip where absent).
FIXTURES = REPO.parent / "shared" / "k8s-fixtures"
