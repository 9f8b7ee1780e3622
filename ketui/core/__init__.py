"""ketui's headless core: sources, decoding, key index. Never imports Textual."""
