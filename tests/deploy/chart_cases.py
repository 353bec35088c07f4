"""Values for the chart tests: overlays that must install, and overlays that must be refused.

Each bad overlay names the values path its error must point at, so a value refused for some
other, accidental reason does not count as the schema doing its job.
"""

from __future__ import annotations

import copy
from typing import Any

GOOD: dict[str, dict[str, Any]] = {
    "defaults": {},
    "zones": {"blockstore": {"zones": ["zone-a", "zone-b", "zone-c"], "replicas": 2,
                             "zoneSpread": {"whenUnsatisfiable": "DoNotSchedule"}}},
    "ha": {"nameserver": {"replicas": 3}, "gateway": {"replicas": 4},
           "blockstore": {"pdb": {"maxUnavailable": 2}}},
    "embedded-redis": {"redis": {"embedded": {"enabled": True}}},
    "existing-secrets": {
        "clusterSecret": {"existingSecret": "plen-cluster"},
        "redis": {"existingSecret": "plen-redis", "url": "rediss://ignored:6380/0"},
        "gateway": {"rootCredentials": {"existingSecret": "plen-root"},
                    "service": {"type": "LoadBalancer", "port": 443}},
    },
    "given-credentials": {
        "clusterSecret": {"value": "a-cluster-secret"},
        "gateway": {"rootCredentials": {"user": "admin", "password": "long-enough"},
                    "domain": "s3.example.com"},
        "blockstore": {"extraEnv": [{"name": "PLEN_LOG_LEVEL", "value": "DEBUG"}],
                       "persistence": {"size": "1Ti", "storageClass": "fast"}},
    },
    "no-gateway": {"gateway": {"enabled": False}, "blockstore": {"pdb": {"enabled": False}}},
    "sentinel": {"redis": {"url": "redis+sentinel://s1:26379,s2:26379,s3:26379/plen/0"}},
}

# name -> (overlay, the values path the error must name)
BAD: dict[str, tuple[dict[str, Any], str]] = {
    "unknown-top-level-key": ({"blockstores": {"replicas": 3}}, ""),
    "unknown-nested-key": ({"gateway": {"replica": 2}}, "gateway"),
    "replicas-not-integer": ({"blockstore": {"replicas": "three"}}, "blockstore/replicas"),
    "zero-blockstores": ({"blockstore": {"replicas": 0}}, "blockstore/replicas"),
    "zero-nameservers": ({"nameserver": {"replicas": 0}}, "nameserver/replicas"),
    "port-out-of-range": ({"gateway": {"port": 70000}}, "gateway/port"),
    "service-type-not-in-enum": ({"nameserver": {"service": {"type": "Ingress"}}},
                                 "nameserver/service/type"),
    "redis-url-not-redis": ({"redis": {"url": "http://redis:6379/0"}}, "redis/url"),
    "short-root-password": ({"gateway": {"rootCredentials": {"password": "short"}}},
                            "gateway/rootCredentials/password"),
    "block-size-too-small": ({"nameserver": {"blockSize": 1024}}, "nameserver/blockSize"),
    "bad-storage-size": ({"blockstore": {"persistence": {"size": "a lot"}}},
                         "blockstore/persistence/size"),
    "zone-not-a-dns-label": ({"blockstore": {"zones": ["Zone A"]}}, "blockstore/zones/0"),
    "spread-policy-not-in-enum": ({"blockstore": {"zoneSpread": {"whenUnsatisfiable": "Never"}}},
                                  "blockstore/zoneSpread/whenUnsatisfiable"),
    "pdb-allows-nothing": ({"blockstore": {"pdb": {"maxUnavailable": 0}}},
                           "blockstore/pdb/maxUnavailable"),
    "extra-env-without-name": ({"gateway": {"extraEnv": [{"value": "x"}]}},
                               "gateway/extraEnv/0"),
}


def merged(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overlay`` merged in, maps recursively, as Helm merges ``-f`` files."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
