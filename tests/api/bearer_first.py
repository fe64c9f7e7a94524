"""schemathesis hooks: a bearer token wherever www/openapi.yaml takes one.

schemathesis authenticates an operation with the first alternative of its `security` it holds
credentials for, and the document lists the session cookies first, as browsers use them. Loaded
with `SCHEMATHESIS_HOOKS=tests/api/bearer_first.py`, this puts `accessToken` first instead, so a
run checks the answers a client that is not a browser gets.
"""

import schemathesis


@schemathesis.hook
def before_load_schema(context, raw_schema):
    for path_item in raw_schema.get("paths", {}).values():
        for operation in path_item.values():
            security = operation.get("security") if isinstance(operation, dict) else None
            if security:
                security.sort(key=lambda requirement: "accessToken" not in requirement)
