"""ketui screens and modal dialogs."""
