"""Checks larder's Home Assistant discovery messages with Home Assistant's own code.

Input (stdin): one JSON object per line, {"topic": "...", "payload": <object or string>}.
Every message goes through the same steps as homeassistant/components/mqtt/discovery.py
(topic match, abbreviation expansion, DEVICE_DISCOVERY_SCHEMA, per-component merge of
device/origin/shared options, `~` base) and then the platform's own DISCOVERY_SCHEMA.
Exit 0 when every message passes; otherwise each failure is printed and the exit is 1.
"""

import importlib
import tempfile
import json
import sys

from homeassistant.components.mqtt import discovery as d
from homeassistant.components.mqtt.const import CONF_COMPONENTS, CONF_ORIGIN
from homeassistant.const import CONF_DEVICE
MQTTDiscoveryPayload = d.MQTTDiscoveryPayload
from homeassistant.const import CONF_PLATFORM
import voluptuous as vol

PREFIX = sys.argv[1] if len(sys.argv) > 1 else "homeassistant"
SCHEMA_MODULES = {"device_automation": ("device_trigger", "TRIGGER_DISCOVERY_SCHEMA")}


def platform_schema(platform):
    module, name = SCHEMA_MODULES.get(platform, (platform, "DISCOVERY_SCHEMA"))
    return getattr(importlib.import_module(f"homeassistant.components.mqtt.{module}"), name)


def check_component(platform, config, where, failures):
    if "object_id" in config:
        failures.append(f"{where}: uses the deprecated object_id")
    if d.TOPIC_BASE in config:
        d._replace_topic_base(config)
    try:
        validated = platform_schema(platform)(config)
    except vol.Invalid as e:
        failures.append(f"{where}: {platform} schema: {e}")
        return None
    return validated


def check(topic, payload, failures):
    if not topic.startswith(PREFIX + "/"):
        failures.append(f"{topic}: not under the discovery prefix {PREFIX!r}")
        return 0
    match = d.TOPIC_MATCHER.match(topic[len(PREFIX) + 1 :])
    if not match:
        failures.append(f"{topic}: HA's TOPIC_MATCHER does not accept this topic")
        return 0
    component, node_id, object_id = match.groups()
    if payload in ("", None):
        return 0  # removal
    if isinstance(payload, str):
        payload = json.loads(payload)
    payload = MQTTDiscoveryPayload(payload)
    checked = 0
    if component == "device":
        d._replace_all_abbreviations(payload)
        try:
            d.DEVICE_DISCOVERY_SCHEMA(payload)
        except vol.Invalid as e:
            failures.append(f"{topic}: DEVICE_DISCOVERY_SCHEMA: {e}")
            return 0
        for cid, config in payload[CONF_COMPONENTS].items():
            platform = config.pop(CONF_PLATFORM)
            if not config:
                continue  # a {"p": ...} stub removes the component
            comp = MQTTDiscoveryPayload(config)
            comp[CONF_DEVICE] = payload[CONF_DEVICE]
            comp[CONF_ORIGIN] = payload.get(CONF_ORIGIN)
            d._merge_common_device_options(comp, payload)
            if check_component(platform, comp, f"{topic} [{cid}]", failures) is not None:
                checked += 1
    else:
        d._replace_all_abbreviations(payload)
        if not d._valid_origin_info(payload):
            failures.append(f"{topic}: invalid origin")
            return 0
        if check_component(component, payload, topic, failures) is not None:
            checked += 1
    return checked


def main():
    failures = []
    messages = components = 0
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        messages += 1
        components += check(msg["topic"], msg.get("payload"), failures)
    for f in failures:
        print("FAIL", f)
    print(f"{messages} discovery messages, {components} components valid, {len(failures)} failures")
    sys.exit(1 if failures or messages == 0 else 0)


async def with_hass():
    # Templates are validated against a running HomeAssistant instance, as in HA.
    from homeassistant.core import HomeAssistant

    hass = HomeAssistant(tempfile.mkdtemp())
    try:
        main()
    finally:
        await hass.async_stop(force=True)


if __name__ == "__main__":
    import asyncio

    asyncio.run(with_hass())
