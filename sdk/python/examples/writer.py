"""A trusted memory writer signs each entry as it writes it, so the sidecar can refuse calls shaped by
entries nobody trusted wrote. It needs the tenant's key file (or a writer key file from
``intentgate memory writer-key``), never an agent's token.

    INTENTGATE_KEYS=keys.json INTENTGATE_TENANT=acme python writer.py mem-001 "Acme Corp IBAN: NL12ACME0123456"
"""

import json
import os
import sys
import time

from intentgate import MemoryWriter, TokenKeys

item_id, content = sys.argv[1], sys.argv[2]
with open(os.environ.get("INTENTGATE_KEYS", "keys.json"), encoding="utf-8") as f:
    file = json.load(f)
if "kind" in file:
    writer = MemoryWriter.from_file(file)
else:
    writer = MemoryWriter.from_keys(TokenKeys.from_file(file), os.environ.get("INTENTGATE_TENANT", "acme"), "crm-sync")

now = int(time.time())
item = writer.sign(id=item_id, content=content, written_at=now, expires_at=now + 30 * 86400)
# Store `item` beside the entry; the agent presents it, with the content, on the calls the entry shapes.
print(json.dumps(item, ensure_ascii=False))
