"""Bulk import: CSV, JSON Lines and Parquet exports (gzip too) into the event log, through a declared mapping.

```python
from c360.importer import import_file, load_mapping

mapping = load_mapping(Path("src/c360/demo/mappings/crm_contacts.yml"))
result = import_file(Path("crm_contacts.csv"), mapping, store=ws.store, log=ws.log,
                     timezone=ws.settings.timezone, default_currency=ws.settings.default_currency)
```
See docs/import.md for the mapping file, the message each kind of row becomes and the rules for real files.
"""

from c360.importer.mapping import Mapping, MappingError, load_mapping, parse_mapping
from c360.importer.run import ImportResult, import_file
from c360.importer.sniff import UnreadableFile

__all__ = ["ImportResult", "Mapping", "MappingError", "UnreadableFile", "import_file", "load_mapping", "parse_mapping"]
