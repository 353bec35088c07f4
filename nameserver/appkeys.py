"""Typed application keys of the nameserver app."""

from __future__ import annotations

from aiohttp import web

from nameserver.access import Access
from nameserver.authz import Authorizer
from nameserver.dashboard.buckets import BucketSizes
from nameserver.dashboard.samples import Throughput
from nameserver.fsck import Fsck
from nameserver.gc import GCWorker
from nameserver.lease import Lease
from nameserver.membership import Membership
from nameserver.metrics import NameserverMetrics
from nameserver.namespace import Namespace
from nameserver.rebalance import Rebalancer
from nameserver.repair import RepairWorker
from nameserver.servers import Servers, StatusCache
from nameserver.settings import Settings
from nameserver.store.redis_store import RedisStore
from nameserver.uploads import Uploads

settings_key = web.AppKey("settings", Settings)
store_key = web.AppKey("store", RedisStore)
membership_key = web.AppKey("membership", Membership)
namespace_key = web.AppKey("namespace", Namespace)
gc_key = web.AppKey("gc", GCWorker)
uploads_key = web.AppKey("uploads", Uploads)
repair_key = web.AppKey("repair", RepairWorker)
rebalance_key = web.AppKey("rebalance", Rebalancer)
servers_key = web.AppKey("servers", Servers)
fsck_key = web.AppKey("fsck", Fsck)
lease_key = web.AppKey("lease", Lease)
metrics_key = web.AppKey("metrics", NameserverMetrics)
status_cache_key = web.AppKey("status_cache", StatusCache)
throughput_key = web.AppKey("throughput", Throughput)
bucket_sizes_key = web.AppKey("bucket_sizes", BucketSizes)
access_service_key = web.AppKey("access", Access)
authorizer_key = web.AppKey("authorizer", Authorizer)
