"""Collection: the Segment-compatible tracking API's request handling (bodies, batches, enrichment)."""
