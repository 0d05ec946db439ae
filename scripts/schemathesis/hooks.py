"""Schemathesis hooks of the schemathesis stage of scripts/test (loaded through SCHEMATHESIS_HOOKS).

`POST /v1/events`, `/_bulk` and `/{index}/_bulk` take NDJSON, which schemathesis cannot send by itself: the
document describes it as a string, sent as it is; any other value is sent as one JSON text per line.
"""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, str):
        return value.encode()
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode()
