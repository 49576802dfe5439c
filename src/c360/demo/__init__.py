"""Realistic, deterministic demo data for c360: a Vietnamese fashion and cosmetics retailer.

```python
from c360.demo import GeneratorConfig, generate_to_dir, iter_events, cached_dataset

cfg = GeneratorConfig(customers=1000, days=365, seed=42)
for message in iter_events(cfg):  # Segment messages in (timestamp, messageId) order, streamed
    ...
counts = generate_to_dir(cfg, "demo-data")  # events.jsonl, the CSV sources, catalog.csv, truth/, manifest.json
path = cached_dataset(1000, 365, 42)  # the same, generated once into a cache folder
```
The same config gives the same bytes; see docs/demo-data.md for files, columns, rates and guaranteed properties.
"""

from pathlib import Path

from c360.demo.cache import cached_dataset
from c360.demo.config import DEFAULT_END_DATE, GeneratorConfig
from c360.demo.output import generate_to_dir, iter_events

#: A mapping for each CSV source of the demo data, named after its file (`pos_sales.yml` for `pos_sales.csv`).
MAPPINGS_DIR = Path(__file__).parent / "mappings"

__all__ = ["DEFAULT_END_DATE", "MAPPINGS_DIR", "GeneratorConfig", "cached_dataset", "generate_to_dir", "iter_events"]
