"""Drafting providers: Anthropic Claude through the official SDK, and an offline drafter."""
