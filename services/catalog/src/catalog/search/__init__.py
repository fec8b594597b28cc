"""The catalog's search projection: an embedded Tantivy index of the visible products, one per
process, built from the catalog database at start-up and kept current from the ``search_changes``
log that migration 0020's triggers write (docs/decisions/0111).

``schema`` (fields, analyzer, documents), ``query`` (what a visitor typed and the list's filters
turned into engine queries: C5 relevance rules, typo tolerance), ``index`` (the engine: ordered
pages, counts, facets, snippets), ``changes`` and ``projection`` (loading from the database and
following its changes), ``service`` (what the read side asks of it).
"""
