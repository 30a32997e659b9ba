#!/usr/bin/env python3
"""Builds the service's OpenAPI document and writes Sources/VolScaleServer/OpenAPI.swift.

The bounds here are the ones the handlers enforce (Requests, AccountLimits, the handlers'
own checks): a request outside them is answered 400 (or 422 where the model or data
cannot serve it), a request inside them never 400. schemathesis checks exactly that
(scripts/schemathesis.sh). Run after changing a route or a bound:
    python3 scripts/openapi.py
"""
import json, pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent

def err(desc): return {"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

# Responses shared by many operations, defined once and referenced.
SHARED = {
    "Unauthorized": err("missing or unknown key"),
    "Forbidden": err("role too low"),
    "RateLimited": err("rate limit exceeded; see Retry-After"),
    "BadParameter": err("a parameter is not valid; the message names it"),
    "NotFound": err("unknown asset or account"),
    "BadBody": err("malformed body, unknown field, wrong type or a value out of bounds; the message names the field"),
    "TooLarge": err("body larger than 1 MiB"),
    "Unprocessable": err("well-formed, but the data cannot serve it (unknown asset or instrument, too little history, every quote rejected)"),
}
def ref(name): return {"$ref": f"#/components/responses/{name}"}

AUTH = {"401": ref("Unauthorized"), "403": ref("Forbidden"), "429": ref("RateLimited")}
NAME64 = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^\\u0000-\\u001f\\u007f]+$"}
NAME128 = {"type": "string", "minLength": 1, "maxLength": 128}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string", "description": "names the field and the reason"}}}}},
    "Quote": {
        "type": "object", "additionalProperties": False, "required": ["asset", "source", "ts", "price"],
        "properties": {
            "asset": NAME64, "source": NAME64,
            "ts": {"type": "integer", "format": "int64", "minimum": -2208988800000, "maximum": 4102444800000, "description": "UTC epoch milliseconds, 1900-2100; at most 5 s ahead of the server clock to be accepted"},
            "price": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 1e15},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1e15, "description": "absolute uncertainty in price units"},
        },
    },
    "QuoteBatch": {"type": "object", "additionalProperties": False, "required": ["quotes"],
                   "properties": {"quotes": {"type": "array", "maxItems": 10000, "items": {"$ref": "#/components/schemas/Quote"}}}},
    "Position": {
        "type": "object", "additionalProperties": False, "required": ["instrument", "quantity"],
        "properties": {
            "instrument": NAME128,
            "quantity": {"type": "number", "minimum": -1e12, "maximum": 1e12, "description": "contracts; positive long"},
            "entryPrice": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 1e12, "description": "required for linear and inverse contracts"},
            "impliedVolatility": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 10, "description": "annualised decimal (options)"},
        },
    },
    "CollateralEntry": {"type": "object", "additionalProperties": False, "required": ["asset", "quantity"],
                        "properties": {"asset": NAME128, "quantity": {"type": "number", "minimum": -1e15, "maximum": 1e15}}},
    "Account": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "id": NAME128,
            "collateral": {"oneOf": [
                {"type": "object", "maxProperties": 100, "additionalProperties": {"type": "number", "minimum": -1e15, "maximum": 1e15}},
                {"type": "array", "maxItems": 100, "items": {"$ref": "#/components/schemas/CollateralEntry"}},
            ], "description": "asset -> quantity (negative: borrowed)"},
            "positions": {"type": "array", "maxItems": 1000, "items": {"$ref": "#/components/schemas/Position"}},
            "mode": {"type": "string", "enum": ["standard", "portfolio"]},
            "explain": {"type": "boolean"},
        },
    },
    "Stress": {
        "type": "object", "additionalProperties": False, "required": ["shock"],
        "properties": {
            "shock": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "number", "minimum": -0.9999, "maximum": 10},
                      "description": "asset -> simple return (-0.3 = -30%)"},
            "correlation": {"type": "number", "minimum": -1, "maximum": 1},
            "mode": {"type": "string", "enum": ["standard", "portfolio"]},
        },
    },
    "Backtest": {
        "type": "object", "additionalProperties": False, "required": ["asset"],
        "properties": {
            "asset": {"type": "string"},
            "method": {"type": "string", "enum": ["parametric", "historical", "fhs"]},
            "measure": {"type": "string", "enum": ["var", "es"]},
            "confidence": {"type": "number", "minimum": 0.5, "maximum": 0.9999},
            "testConfidence": {"type": "number", "minimum": 0.5, "maximum": 0.9999},
            "mpor": {"type": "integer", "minimum": 1, "maximum": 250},
            "lookback": {"type": "integer", "minimum": 10, "maximum": 100000},
            "lambda": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "exclusiveMaximum": True, "maximum": 1},
            "side": {"type": "string", "enum": ["long", "short"]},
        },
    },
    "PolicyChange": {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "properties": {
            "buffer": {"type": "number", "minimum": 0.25, "maximum": 10, "nullable": True},
            "speedLimitUp": {"type": "number", "minimum": 0, "maximum": 10, "nullable": True},
            "speedLimitDown": {"type": "number", "minimum": 0, "maximum": 0.99, "nullable": True},
            "hardFloor": {"type": "number", "minimum": 0, "maximum": 1, "nullable": True},
            "hardCap": {"type": "number", "minimum": 0, "maximum": 1, "nullable": True},
            "maintenanceFraction": {"type": "number", "minimum": 0.01, "maximum": 1},
        },
    },
}

def body(ref): return {"required": True, "content": {"application/json": {"schema": ref}}}
def q(name, schema, desc=None, required=False):
    p = {"name": name, "in": "query", "required": required, "schema": schema}
    if desc: p["description"] = desc
    return p
ASSET = {"name": "asset", "in": "path", "required": True, "schema": {"type": "string"}}

def op(summary, role=None, params=None, req=None, extra=None, ok="OK"):
    o = {"summary": summary, "responses": {"200": {"description": ok}}}
    if role:
        o["security"] = [{"bearer": []}, {"apiKey": []}]
        o["description"] = f"Requires a key with role '{role}' or higher (read < ingest < admin)."
        o["responses"].update(AUTH)
    if params:
        o["parameters"] = params
        o["responses"]["400"] = ref("BadParameter")
        if any(p["in"] == "path" for p in params):
            o["responses"]["404"] = ref("NotFound")
    if req:
        o["requestBody"] = req
        o["responses"]["400"] = ref("BadBody")
        o["responses"]["413"] = ref("TooLarge")
        o["responses"]["422"] = ref("Unprocessable")
    for k, v in (extra or {}).items():
        o["responses"][k] = err(v)
    return o

INGEST_RESULT = {"type": "object", "required": ["accepted", "duplicates", "rejected", "publications"],
                 "properties": {"accepted": {"type": "integer"}, "duplicates": {"type": "integer"},
                                "rejected": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "count by reason"},
                                "publications": {"type": "array", "items": {"type": "object"}}}}

PATHS = {
    "/health": {"get": op("Liveness")},
    "/ready": {"get": op("Readiness (engine loaded)", extra={"503": "starting"})},
    "/metrics": {"get": op("Prometheus metrics: request latencies, ingest and rejection counts, publications, engine lag", "read")},
    "/openapi.json": {"get": op("This document")},
    "/": {"get": op("Dashboard (HTML)")},
    "/dashboard.js": {"get": op("Dashboard script")},
    "/v1/assets": {"get": op("Assets with prices, price status, sources, volatility and current rates", "read")},
    "/v1/assets/{asset}": {"get": op("One asset", "read", [ASSET])},
    "/v1/assets/{asset}/history": {"get": op("Price and volatility history (recent)", "read", [ASSET])},
    "/v1/rates": {"get": op("Latest published rate per asset and side, with the control that set it", "read")},
    "/v1/rates/{asset}/history": {"get": op("Publications of one asset, newest page first", "read", [
        ASSET,
        q("limit", {"type": "integer", "minimum": 1, "maximum": 5000, "default": 500}, "page size"),
        q("before", {"type": "integer", "format": "int64", "minimum": 1}, "only publications with a lower sequence number (the next page)"),
    ])},
    "/v1/prices": {"post": op("Ingest one quote or {quotes: [...]}", "ingest", req=body({"oneOf": [{"$ref": "#/components/schemas/Quote"}, {"$ref": "#/components/schemas/QuoteBatch"}]}),
                              extra={"503": "the store did not commit within 30 s; resending is safe (stored quotes count as duplicates)"},
                              ok="answered once the accepted quotes are durable: accepted, duplicates (already stored or queued: a resent batch), rejections by reason, publications")},
    "/v1/margin/what-if": {"post": op("Margin of an account posted in the body", "read", req=body({"$ref": "#/components/schemas/Account"}))},
    "/v1/stream": {"get": op("Server-sent events of publications and price-status changes; resume with since=SEQ or the Last-Event-ID header", "read", [
        q("since", {"type": "integer", "format": "int64", "minimum": 0, "maximum": 9007199254740991}, "replay logged publications after this sequence number"),
        q("limit", {"type": "integer", "minimum": 0, "maximum": 1000000}, "end the stream after this many events"),
        q("key", {"type": "string"}, "API key for EventSource, which cannot set headers (this route only)"),
    ], extra={"503": "too many open streams; see Retry-After"}, ok="text/event-stream; a client too slow to keep up gets `event: dropped` with resumeSince")},
    "/v1/ws": {"get": op("WebSocket: the events of /v1/stream, one JSON text message each ({event, id, data}); resume with since=SEQ", "read", [
        q("since", {"type": "integer", "format": "int64", "minimum": 0, "maximum": 9007199254740991}, "replay logged publications after this sequence number"),
        q("key", {"type": "string"}, "API key for browsers' WebSocket, which cannot set headers (this route only)"),
    ], extra={"426": "not an upgrade request"})},
    "/v1/policy": {
        "get": op("Current margin policy of the engine", "read"),
        "put": op("Change the margin controls; recorded in the audit chain with the key's name", "admin", req=body({"$ref": "#/components/schemas/PolicyChange"}),
                  extra={"503": "applied but not yet stored (the store is failing)"}),
    },
    "/v1/accounts/{id}/margin": {"get": op("Margin of a stored account", "read", [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
        q("mode", {"type": "string", "enum": ["standard", "portfolio"]}),
        q("explain", {"type": "boolean"}),
    ], extra={"422": "the account cannot be evaluated"})},
    "/v1/stress": {"post": op("Shock the stored accounts and run the liquidation cascade", "read", req=body({"$ref": "#/components/schemas/Stress"}))},
    "/v1/backtest": {"post": op("Backtest a margin model over the service's history of one asset (keys as volscale backtest --format json)", "read", req=body({"$ref": "#/components/schemas/Backtest"}))},
}

PATHS["/v1/prices"]["post"]["responses"]["422"] = {"description": "every quote rejected (none accepted, none a duplicate): counts by reason",
                                                  "content": {"application/json": {"schema": INGEST_RESULT}}}
PATHS["/v1/prices"]["post"]["responses"]["200"]["content"] = {"application/json": {"schema": INGEST_RESULT}}

DOC = {
    "openapi": "3.0.3",
    "info": {"title": "VolScale risk service", "version": "1.1.0",
             "description": "Volatility-scaled margin parameters, trusted prices and what-if margin. Rates are decimal fractions of notional; volatilities per bar, decimal; times UTC epoch milliseconds. 400: the request breaks this document (the message names the field); 422: it is well-formed but the data cannot serve it."},
    "servers": [{"url": "http://127.0.0.1:8080"}],
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}, "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
                   "schemas": SCHEMAS, "responses": SHARED},
    "paths": PATHS,
}

text = json.dumps(DOC, indent=1)
swift = ('/// The OpenAPI description of the service, served at /openapi.json. Generated by\n'
         '/// scripts/openapi.py (edit that, then run it); a test checks it against the routes the\n'
         '/// router registers, and schemathesis checks the server against it (scripts/schemathesis.sh).\n'
         'enum OpenAPIDocument {\n    static let json = #"""\n' + text + '\n"""#\n}\n')
(ROOT / "Sources/VolScaleServer/OpenAPI.swift").write_text(swift)
print(f"wrote Sources/VolScaleServer/OpenAPI.swift: {len(PATHS)} paths, {len(SCHEMAS)} schemas")
