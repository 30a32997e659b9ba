/// The OpenAPI description of the service, served at /openapi.json. A test checks it
/// against the routes the router registers.
enum OpenAPIDocument {
    static let json = #"""
{
 "openapi": "3.0.3",
 "info": {
  "title": "VolScale risk service",
  "version": "1.0.0",
  "description": "Volatility-scaled margin parameters, trusted prices and what-if margin. Rates are decimal fractions of notional; volatilities per bar, decimal; times UTC epoch milliseconds."
 },
 "servers": [
  {
   "url": "http://127.0.0.1:8080"
  }
 ],
 "components": {
  "securitySchemes": {
   "bearer": {
    "type": "http",
    "scheme": "bearer"
   },
   "apiKey": {
    "type": "apiKey",
    "in": "header",
    "name": "X-API-Key"
   }
  }
 },
 "paths": {
  "/health": {
   "get": {
    "summary": "Liveness",
    "responses": {
     "200": {
      "description": "OK"
     }
    }
   }
  },
  "/ready": {
   "get": {
    "summary": "Readiness (engine loaded)",
    "responses": {
     "200": {
      "description": "ready"
     },
     "503": {
      "description": "starting"
     }
    }
   }
  },
  "/metrics": {
   "get": {
    "summary": "Prometheus metrics: request latencies, ingest and rejection counts, publications, engine lag",
    "responses": {
     "200": {
      "description": "OK"
     },
     "401": {
      "description": "missing or unknown key"
     },
     "403": {
      "description": "role too low"
     },
     "429": {
      "description": "rate limit exceeded; see Retry-After"
     }
    },
    "security": [
     {
      "bearer": []
     },
     {
      "apiKey": []
     }
    ],
    "description": "Requires a key with role 'read' or higher (read < ingest < admin)."
   }
  },
  "/openapi.json": {
   "get": {
    "summary": "This document",
    "responses": {
     "200": {
      "description": "OK"
     }
    }
   }
  },
  "/": {
   "get": {
    "summary": "Dashboard (HTML)",
    "responses": {
     "200": {
      "description": "OK"
     }
    }
   }
  },
  "/dashboard.js": {
   "get": {
    "summary": "Dashboard script",
    "responses": {
     "200": {
      "description": "OK"
     }
    }
   }
  },
  "/v1/assets": {
   "get": {
    "summary": "Assets with prices, price status, sources, volatility and current rates",
    "responses": {
     "200": {
      "description": "OK"
     },
     "401": {
      "description": "missing or unknown key"
     },
     "403": {
      "description": "role too low"
     },
     "429": {
      "description": "rate limit exceeded; see Retry-After"
     }
    },
    "security": [
     {
      "bearer": []
     },
     {
      "apiKey": []
     }
    ],
    "description": "Requires a key with role 'read' or higher (read < ingest < admin)."
   }
  },
  "/v1/assets/{asset}": {
   "get": {
    "summary": "One asset",
    "responses": {
     "200": {
      "description": "OK"
     },
     "404": {
      "description": "unknown asset"
     },
     "401": {
      "description": "missing or unknown key"
     },
     "403": {
      "description": "role too low"
     },
     "429": {
      "description": "rate limit exceeded; see Retry-After"
     }
    },
    "security": [
     {
      "bearer": []
     },
     {
      "apiKey": []
     }
    ],
    "description": "Requires a key with role 'read' or higher (read < ingest < admin).",
    "parameters": [
     {
      "name": "asset",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ]
   }
  },
  "/v1/assets/{asset}/history": {
   "get": {
    "summary": "Price and volatility history (recent)",
    "responses": {
     "200": {
      "description": "OK"
     },
     "401": {
      "description": "missing or unknown key"
     },
     "403": {
      "description": "role too low"
     },
     "429": {
      "description": "rate limit exceeded; see Retry-After"
     }
    },
    "security": [
     {
      "bearer": []
     },
     {
      "apiKey": []
     }
    ],
    "description": "Requires a key with role 'read' or higher (read < ingest < admin).",
    "parameters": [
     {
      "name": "asset",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ]
   }
  },
  "/v1/rates": {
   "get": {
    "summary": "Latest published rate per asset and side, with the control that set it",
    "responses": {
     "200": {
      "description": "OK"
     },
     "401": {
      "description": "missing or unknown key"
     },
     "403": {
      "description": "role too low"
     },
     "429": {
      "description": "rate limit exceeded; see Retry-After"
     }
    },
    "security": [
     {
      "bearer": []
     },
     {
      "apiKey": []
     }
    ],
    "description": "Requires a key with role 'read' or higher (read < ingest < admin)."
   }
  },
  "/v1/rates/{asset}/history": {
   "get": {
    "summary": "Publications of one asset",
    "responses": {
     "200": {
      "description": "OK"
     },
     "401": {
      "description": "missing or unknown key"
     },
     "403": {
      "description": "role too low"
     },
     "429": {
      "description": "rate limit exceeded; see Retry-After"
     },
     "400": {
      "description": "limit or before not an integer in range"
     }
    },
    "security": [
     {
      "bearer": []
     },
     {
      "apiKey": []
     }
    ],
    "description": "Requires a key with role 'read' or higher (read < ingest < admin).",
    "parameters": [
     {
      "name": "asset",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "limit",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 5000,
       "default": 500
      },
      "description": "page size"
     },
     {
      "name": "before",
      "in": "query",
      "description": "only publications with a lower sequence number (the next page)",
      "schema": {
       "type": "integer",
       "format": "int64",
       "minimum": 1
      }
     }
    ]
   }
  },
  "/v1/prices": {
   "post": {
    "summary": "Ingest one quote or {quotes: [...]}",
    "responses": {
     "200": {
      "description": "answered once the accepted quotes are durable: accepted, duplicates (already stored or queued: a resent batch), rejections by reason, publications"
     },
     "400": {
      "description": "malformed body; the message names the field"
     },
     "413": {
      "description": "body too large"
     },
     "422": {
      "description": "every quote rejected (none accepted, none a duplicate)"
     },
     "401": {
      "description": "missing or unknown key"
     },
     "403": {
      "description": "role too low"
     },
     "429": {
      "description": "rate limit exceeded; see Retry-After"
     },
     "503": {
      "description": "the store did not commit within 30 s; resending is safe (stored quotes count as duplicates)"
     }
    },
    "security": [
     {
      "bearer": []
     },
     {
      "apiKey": []
     }
    ],
    "description": "Requires a key with role 'ingest' or higher (read < ingest < admin).",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "oneOf": [
         {
          "type": "object",
          "additionalProperties": false,
          "required": [
           "asset",
           "source",
           "ts",
           "price"
          ],
          "properties": {
           "asset": {
            "type": "string"
           },
           "source": {
            "type": "string"
           },
           "ts": {
            "type": "integer",
            "description": "UTC epoch milliseconds"
           },
           "price": {
            "type": "number"
           },
           "confidence": {
            "type": "number",
            "description": "absolute uncertainty, price units"
           }
          }
         },
         {
          "type": "object",
          "additionalProperties": false,
          "properties": {
           "quotes": {
            "type": "array",
            "items": {
             "type": "object",
             "additionalProperties": false,
             "required": [
              "asset",
              "source",
              "ts",
              "price"
             ],
             "properties": {
              "asset": {
               "type": "string"
              },
              "source": {
               "type": "string"
              },
              "ts": {
               "type": "integer",
               "description": "UTC epoch milliseconds"
              },
              "price": {
               "type": "number"
              },
              "confidence": {
               "type": "number",
               "description": "absolute uncertainty, price units"
              }
             }
            }
           }
          }
         }
        ]
       }
      }
     }
    }
   }
  },
  "/v1/margin/what-if": {
   "post": {
    "summary": "Margin of an account posted in the body",
    "responses": {
     "200": {
      "description": "equity, initialMargin, maintenanceMargin, status, explanation when asked"
     },
     "400": {
      "description": "malformed account; the message names the field"
     },
     "422": {
      "description": "account cannot be evaluated (unknown instrument, missing price or IV)"
     },
     "401": {
      "description": "missing or unknown key"
     },
     "403": {
      "description": "role too low"
     },
     "429": {
      "description": "rate limit exceeded; see Retry-After"
     }
    },
    "security": [
     {
      "bearer": []
     },
     {
      "apiKey": []
     }
    ],
    "description": "Requires a key with role 'read' or higher (read < ingest < admin).",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
         "id": {
          "type": "string"
         },
         "mode": {
          "type": "string",
          "enum": [
           "standard",
           "portfolio"
          ]
         },
         "explain": {
          "type": "boolean"
         },
         "collateral": {
          "oneOf": [
           {
            "type": "object",
            "additionalProperties": {
             "type": "number"
            }
           },
           {
            "type": "array",
            "items": {
             "type": "object",
             "properties": {
              "asset": {
               "type": "string"
              },
              "quantity": {
               "type": "number"
              }
             }
            }
           }
          ]
         },
         "positions": {
          "type": "array",
          "items": {
           "type": "object",
           "additionalProperties": false,
           "required": [
            "instrument",
            "quantity"
           ],
           "properties": {
            "instrument": {
             "type": "string"
            },
            "quantity": {
             "type": "number"
            },
            "entryPrice": {
             "type": "number"
            },
            "impliedVolatility": {
             "type": "number"
            }
           }
          }
         }
        }
       }
      }
     }
    }
   }
  },
  "/v1/stream": {
   "get": {
    "summary": "Server-sent events of publications and price-status changes; resume with since=SEQ",
    "responses": {
     "200": {
      "description": "OK"
     },
     "401": {
      "description": "missing or unknown key"
     },
     "403": {
      "description": "role too low"
     },
     "429": {
      "description": "rate limit exceeded; see Retry-After"
     },
     "400": {
      "description": "since or limit not an integer in range"
     },
     "503": {
      "description": "too many open streams; see Retry-After"
     }
    },
    "security": [
     {
      "bearer": []
     },
     {
      "apiKey": []
     }
    ],
    "description": "Requires a key with role 'read' or higher (read < ingest < admin).",
    "parameters": [
     {
      "name": "since",
      "in": "query",
      "schema": {
       "type": "integer",
       "format": "int64",
       "minimum": 0
      },
      "description": "replay logged publications after this sequence number (at most the latest published)"
     },
     {
      "name": "limit",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 0,
       "maximum": 1000000
      },
      "description": "end the stream after this many events"
     },
     {
      "name": "Last-Event-ID",
      "in": "header",
      "description": "as since (sent by a reconnecting EventSource)",
      "schema": {
       "type": "integer",
       "format": "int64",
       "minimum": 0
      }
     },
     {
      "name": "key",
      "in": "query",
      "description": "API key for EventSource, which cannot set headers (this route only)",
      "schema": {
       "type": "string"
      }
     }
    ]
   }
  },
  "/v1/policy": {
   "get": {
    "summary": "Current margin policy of the engine",
    "responses": {
     "200": {
      "description": "OK"
     },
     "401": {
      "description": "missing or unknown key"
     },
     "403": {
      "description": "role too low"
     },
     "429": {
      "description": "rate limit exceeded; see Retry-After"
     }
    },
    "security": [
     {
      "bearer": []
     },
     {
      "apiKey": []
     }
    ],
    "description": "Requires a key with role 'read' or higher (read < ingest < admin)."
   },
   "put": {
    "summary": "Change the margin controls; recorded in the audit chain with the key's name",
    "responses": {
     "200": {
      "description": "the new policy and its audit record"
     },
     "400": {
      "description": "invalid field, named"
     },
     "401": {
      "description": "missing or unknown key"
     },
     "403": {
      "description": "role too low"
     },
     "429": {
      "description": "rate limit exceeded; see Retry-After"
     }
    },
    "security": [
     {
      "bearer": []
     },
     {
      "apiKey": []
     }
    ],
    "description": "Requires a key with role 'admin' or higher (read < ingest < admin).",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
         "buffer": {
          "type": "number",
          "nullable": true
         },
         "speedLimitUp": {
          "type": "number",
          "nullable": true
         },
         "speedLimitDown": {
          "type": "number",
          "nullable": true
         },
         "hardFloor": {
          "type": "number",
          "nullable": true
         },
         "hardCap": {
          "type": "number",
          "nullable": true
         },
         "maintenanceFraction": {
          "type": "number"
         }
        }
       }
      }
     }
    }
   }
  },
  "/v1/accounts/{id}/margin": {
   "get": {
    "summary": "Margin of a stored account",
    "responses": {
     "200": {
      "description": "OK"
     },
     "404": {
      "description": "unknown account"
     },
     "401": {
      "description": "missing or unknown key"
     },
     "403": {
      "description": "role too low"
     },
     "429": {
      "description": "rate limit exceeded; see Retry-After"
     }
    },
    "security": [
     {
      "bearer": []
     },
     {
      "apiKey": []
     }
    ],
    "description": "Requires a key with role 'read' or higher (read < ingest < admin).",
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "mode",
      "in": "query",
      "schema": {
       "type": "string",
       "enum": [
        "standard",
        "portfolio"
       ]
      }
     },
     {
      "name": "explain",
      "in": "query",
      "schema": {
       "type": "boolean"
      }
     }
    ]
   }
  },
  "/v1/stress": {
   "post": {
    "summary": "Shock the stored accounts and run the liquidation cascade",
    "responses": {
     "200": {
      "description": "OK"
     },
     "401": {
      "description": "missing or unknown key"
     },
     "403": {
      "description": "role too low"
     },
     "429": {
      "description": "rate limit exceeded; see Retry-After"
     }
    },
    "security": [
     {
      "bearer": []
     },
     {
      "apiKey": []
     }
    ],
    "description": "Requires a key with role 'read' or higher (read < ingest < admin).",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "additionalProperties": false,
        "required": [
         "shock"
        ],
        "properties": {
         "shock": {
          "type": "object",
          "additionalProperties": {
           "type": "number"
          },
          "description": "simple return per asset, -0.3 = -30%"
         },
         "correlation": {
          "type": "number"
         },
         "mode": {
          "type": "string",
          "enum": [
           "standard",
           "portfolio"
          ]
         }
        }
       }
      }
     }
    }
   }
  },
  "/v1/backtest": {
   "post": {
    "summary": "Backtest a margin model over the service's history of one asset (keys as volscale backtest --format json)",
    "security": [
     {
      "bearer": []
     },
     {
      "apiKey": []
     }
    ],
    "description": "Requires a key with role 'read' or higher (read < ingest < admin).",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "additionalProperties": false,
        "required": [
         "asset"
        ],
        "properties": {
         "asset": {
          "type": "string"
         },
         "method": {
          "type": "string",
          "enum": [
           "parametric",
           "historical",
           "fhs"
          ]
         },
         "measure": {
          "type": "string",
          "enum": [
           "var",
           "es"
          ]
         },
         "confidence": {
          "type": "number"
         },
         "testConfidence": {
          "type": "number"
         },
         "mpor": {
          "type": "integer"
         },
         "lookback": {
          "type": "integer"
         },
         "lambda": {
          "type": "number"
         },
         "side": {
          "type": "string",
          "enum": [
           "long",
           "short"
          ]
         }
        }
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "observations, exceedances, exceedanceRate, kupiec, christoffersen, trafficLight, procyclicality"
     },
     "400": {
      "description": "invalid field, named"
     },
     "401": {
      "description": "missing or unknown key"
     },
     "403": {
      "description": "role too low"
     },
     "422": {
      "description": "too little history for the model"
     },
     "429": {
      "description": "rate limit exceeded; see Retry-After"
     }
    }
   }
  }
 }
}
"""#
}
