"""Reads what a real Home Assistant made of larder's discovery (host side).

    ha_live_check.py STORAGE_DIR DISCOVERY.jsonl STATES.json

STORAGE_DIR is Home Assistant's `.storage` after it stopped; DISCOVERY.jsonl
is what larder published under the discovery prefix (retained, as read back
from the broker); STATES.json maps each state topic larder published to its
payload. Every component larder announced must be an entity in Home
Assistant's registry, on one device, and every level and days-left sensor
must show the value larder published. Prints one line per entity.
"""

import json
import sys


def main():
    storage, discovery_path, states_path = sys.argv[1:4]
    entities = json.load(open(f"{storage}/core.entity_registry"))["data"]["entities"]
    restored = json.load(open(f"{storage}/core.restore_state"))["data"]
    devices = json.load(open(f"{storage}/core.device_registry"))["data"]["devices"]
    states = json.load(open(states_path))
    by_unique = {e["unique_id"]: e for e in entities if e["platform"] == "mqtt"}
    value = {r["state"]["entity_id"]: r["state"]["state"] for r in restored}
    failures = []
    checked = 0
    for line in open(discovery_path):
        msg = json.loads(line)
        if not msg["topic"].endswith("/config") or not msg["payload"]:
            continue
        doc = msg["payload"]
        ids = doc["dev"]["ids"]
        ids = [ids] if isinstance(ids, str) else ids
        device = [d for d in devices if any(i[1] in ids for i in d["identifiers"])]
        if len(device) != 1:
            failures.append(f"device {ids}: {len(device)} devices in Home Assistant's registry")
            continue
        for cid, comp in doc["cmps"].items():
            if set(comp) == {"p"}:
                continue  # a removal stub
            uid = comp["uniq_id"]
            entity = by_unique.get(uid)
            if entity is None:
                failures.append(f"{cid}: no entity with unique id {uid}")
                continue
            if entity["device_id"] != device[0]["id"]:
                failures.append(f"{cid}: entity {entity['entity_id']} is not on larder's device")
            shown = value.get(entity["entity_id"], "(no state)")
            expected = None
            tpl = comp.get("val_tpl", "")
            topic = comp.get("stat_t")
            for key in ("level", "days_left"):
                if tpl == "{{ value_json.%s }}" % key and topic in states:
                    published = json.loads(states[topic]).get(key)
                    if published is not None:
                        expected = published
            if expected is not None:
                if shown in ("unknown", "unavailable", "(no state)") or abs(float(shown) - float(expected)) > 1e-6:
                    failures.append(f"{cid}: {entity['entity_id']} shows {shown!r}, larder published {expected!r}")
            print(f"  {entity['entity_id']:<58} {shown:<28} {'= published' if expected is not None else ''}")
            checked += 1
    for f in failures:
        print("FAIL", f)
    print(f"{checked} entities created by Home Assistant from larder's discovery, {len(failures)} failures")
    sys.exit(1 if failures or checked == 0 else 0)


if __name__ == "__main__":
    main()
