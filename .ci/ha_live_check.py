"""Host-side helpers for .ci/ha-live-check (a real Home Assistant meets larder).

    ha_live_check.py make-auth OUT.json
        Writes Home Assistant's `.storage/auth` with one owner and a
        long-lived access token's refresh token; prints the access token
        (an HS256 JWT, as homeassistant/auth/__init__.py makes them).
    ha_live_check.py states HA_STATES.json DISCOVERY.jsonl PUBLISHED.json
        Every component larder announced is an entity in Home Assistant
        (by unique id, through the entity's attributes) and every level and
        days-left sensor shows the value larder published on its topic.
    ha_live_check.py devices STORAGE_DIR DISCOVERY.jsonl
        After Home Assistant stopped: every larder entity in its registry
        sits on larder's one device.
"""

import base64
import hashlib
import hmac
import json
import secrets
import sys
import time


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_auth(out):
    user_id, token_id = secrets.token_hex(16), secrets.token_hex(16)
    jwt_key = secrets.token_hex(64)
    now = int(time.time())
    auth = {
        "version": 1,
        "minor_version": 1,
        "key": "auth",
        "data": {
            "users": [
                {
                    "id": user_id,
                    "group_ids": [],
                    "is_owner": True,
                    "is_active": True,
                    "name": "larder-ci",
                    "system_generated": False,
                    "local_only": False,
                }
            ],
            "groups": [],
            "credentials": [],
            "refresh_tokens": [
                {
                    "id": token_id,
                    "user_id": user_id,
                    "client_id": None,
                    "client_name": "larder-ci",
                    "client_icon": None,
                    "token_type": "long_lived_access_token",
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now)),
                    "access_token_expiration": 86400.0,
                    "token": secrets.token_hex(64),
                    "jwt_key": jwt_key,
                    "last_used_at": None,
                    "last_used_ip": None,
                    "expire_at": None,
                    "credential_id": None,
                    "version": None,
                }
            ],
        },
    }
    json.dump(auth, open(out, "w"))
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"iss": token_id, "iat": now, "exp": now + 86400}).encode())
    signature = hmac.new(jwt_key.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    print(f"{header}.{claims}.{b64(signature)}")


def components(discovery_path):
    for line in open(discovery_path):
        msg = json.loads(line)
        if not msg["topic"].endswith("/config") or not msg["payload"]:
            continue
        doc = msg["payload"]
        for cid, comp in doc["cmps"].items():
            if set(comp) != {"p"}:  # not a removal stub
                yield doc, cid, comp


def states(ha_states_path, discovery_path, published_path):
    shown = {s["entity_id"]: s for s in json.load(open(ha_states_path))}
    published = json.load(open(published_path))
    failures, checked = [], 0
    for _doc, cid, comp in components(discovery_path):
        platform = comp["p"]
        # Home Assistant names entities from default_entity_id.
        entity_id = comp.get("def_ent_id") or ""
        if not entity_id.startswith(platform + "."):
            failures.append(f"{cid}: default_entity_id {entity_id!r} is not a {platform}")
            continue
        state = shown.get(entity_id)
        if state is None:
            failures.append(f"{cid}: Home Assistant has no entity {entity_id}")
            continue
        value = state["state"]
        expected = None
        topic, tpl = comp.get("stat_t"), comp.get("val_tpl", "")
        for key in ("level", "days_left"):
            if tpl == "{{ value_json.%s }}" % key and topic in published:
                expected = json.loads(published[topic]).get(key)
        note = ""
        if expected is not None:
            if value in ("unknown", "unavailable") or abs(float(value) - float(expected)) > 1e-6:
                failures.append(f"{cid}: {entity_id} shows {value!r}, larder published {expected!r}")
            note = "= published"
        print(f"  {entity_id:<58} {value:<26} {note}")
        checked += 1
    finish(failures, f"{checked} entities in Home Assistant from larder's discovery alone")


def devices(storage, discovery_path):
    entities = json.load(open(f"{storage}/core.entity_registry"))["data"]["entities"]
    registry = json.load(open(f"{storage}/core.device_registry"))["data"]["devices"]
    by_unique = {e["unique_id"]: e for e in entities if e["platform"] == "mqtt"}
    failures, checked = [], 0
    for doc, cid, comp in components(discovery_path):
        ids = doc["dev"]["ids"]
        ids = [ids] if isinstance(ids, str) else ids
        device = [d for d in registry if any(i[1] in ids for i in d["identifiers"])]
        entity = by_unique.get(comp["uniq_id"])
        if len(device) != 1:
            failures.append(f"device {ids}: {len(device)} devices in the registry")
        elif entity is None:
            # Buttons of a request answered since are removed again.
            if comp["p"] != "button":
                failures.append(f"{cid}: no registry entry for unique id {comp['uniq_id']}")
            continue
        elif entity["device_id"] != device[0]["id"]:
            failures.append(f"{cid}: {entity['entity_id']} is not on larder's device")
        checked += 1
    finish(failures, f"{checked} registry entries on larder's one device")


def finish(failures, summary):
    for f in failures:
        print("FAIL", f)
    print(f"{summary}, {len(failures)} failures")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"make-auth": make_auth, "states": states, "devices": devices}[command](*args)
