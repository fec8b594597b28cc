"""The catalog's read side: browse and search (C5), home buckets (C6), trending (C7), category pages (C8),
product pages (C9) and buyability on every card (C10)."""
