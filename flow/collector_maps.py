"""nfacctd's classification, rendered from the database: which plugins run, what each
aggregates and filters, and the pre_tag_maps that put a flow in its traffic class.

The collector writes one row per (subscriber-side address, class, direction, exporter,
minute) into ``flow_bins``; the database decides the rest. What pmacct 1.7.7 did when
tried here shaped the layout:

* Two plugins, "in" (``dst_host``) and "out" (``src_host``), each keeping only the
  subscribers' side through a ``networks_file`` of the subscribers' networks (the IP
  pools' ranges and the subaccounts' static addresses, collapsed into networks) with
  ``networks_file_filter``: the plugin zeroes an address outside them, and the rater's
  view (``flow_bin_rows``) leaves the zeroed rows out. An ``aggregate_filter`` did the
  same in the core, where pmacct composes a packet and runs the BPF program for every
  flow and plugin: more than half the core's time, and the core was the collector's
  limit (docs/benchmarks.md). The raw plugins keep that filter: their rows need the
  remote side, which the networks file would zero too.
* Each plugin has its own pre_tag_map: the remote side is the source for "in" and the
  destination for "out". A map's rules run in order and the first match wins, so the
  classes are rendered by weight (then id); a protocol or port goes into the rule's
  ``filter``. A flow no class matches keeps tag 0, "no class", and is still written.
* Exporters: the map's first rules set tag2 (the direction: 1 in, 2 out) for each NAS
  address and jump on to the classes (``jeq``); a flow from any other sender keeps
  tag2 0 and the plugin's ``pre_tag2_filter`` drops it. The "reject" plugin has the
  opposite filter and counts those flows per exporter in ``flow_rejects`` (reason
  ``unknown_exporter``).
* Passthrough classes: ``jeq`` with several ``set_tag`` rules does not copy a flow into
  each class (the last tag wins), and ``return=true`` (deprecated) in a plugin's map
  made the core segfault on the first flow here.
  So each passthrough class gets its own pair of plugins whose map holds the ordinary
  classes ranked before it and then its own nodes, filtered to its tag: a flow counts in
  the passthrough class when no ordinary class ahead of it took the flow, and the "in"
  and "out" plugins still count it once in its ordinary class (or in class 0).
* Classes marked "store" also get their raw 5-tuple rows in ``flow_raw``, through
  plugins that share the map and keep only the stored classes' tags.
* Zero-byte aggregates (counter-less IPFIX records, MikroTik sends them) reach flow_bins,
  where the rater counts them as rejected (``zero_bytes``); the raw and reject plugins
  drop them (``sql_preprocess: minb=1``): a raw row or an exporter's count of nothing.
* Each counting plugin's cache is sized for what the networks can hold
  (:func:`cache_entries`). When a plugin's queue of cache entries fills between two
  purges, pmacct 1.7.7 purges at once ("Finished cache entries") and afterwards keeps
  only the first of the entries it meant to carry over, pointing the rest of its queue
  at entries it has already written: some counts are written twice, others never. The
  queue holds ``sql_cache_entries`` + 6,000 entries, and one purge interval creates up
  to two bins' keys (the bin ending and the one begun), so the cache must hold twice the
  keys a bin can have. stack/servers/nfacctd.py reports the message as an error.

Maps change with a SIGUSR2 (stack/servers/nfacctd.py reloads them); the plugins'
directives (other networks: a networks file is named by its content; a new passthrough
class) need a restart.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

DIRECTION_TAG = {"in": 1, "out": 2}  # flow_bins.tag2, read by flow_bin_rows
REMOTE_SIDE = {"in": "src", "out": "dst"}  # the remote end of a flow per direction
LOCAL_SIDE = {"in": "dst", "out": "src"}  # the subscriber's end
BIN_AGGREGATE = {"in": "dst_host, tag, tag2, peer_src_ip",
                 "out": "src_host, tag, tag2, peer_src_ip"}
RAW_AGGREGATE = "src_host, dst_host, proto, src_port, dst_port"
REJECT_PLUGIN = "reject"
CACHE_ENTRIES_MIN = 65_537  # pmacct's default would be 32,771; a prime, as it advises
# About 0.4 kB a live entry in a SQL plugin: 2,000,003 entries fill 800 MB per plugin at
# worst. More networks than that (an IPv6 pool, a /8) get this many, and the error
# that nfacctd logs when a bin outgrows it (stack/servers/nfacctd.py) says to raise it.
CACHE_ENTRIES_MAX = 2_000_003
RAW_KEYS_PER_BIN_KEY = 8  # 5-tuples have no bound: a guess of an address's peers a minute
PORT_PROTOCOLS = {6: "tcp", 17: "udp"}


@dataclass(frozen=True)
class ClassNode:
    network: Network
    protocol: int | None = None
    port: int | None = None


@dataclass(frozen=True)
class TrafficClass:
    id: int
    name: str
    weight: int
    passthrough: bool = False
    store: bool = False
    nodes: tuple[ClassNode, ...] = ()


@dataclass(frozen=True)
class CollectorInput:
    """What the database says, in the order the maps use it."""

    classes: tuple[TrafficClass, ...]
    subscriber_networks: tuple[Network, ...]
    exporters: tuple[Address, ...]


@dataclass(frozen=True)
class Plugin:
    """One nfacctd SQL plugin: its name, table and its own directives (the database's
    connection and write mode are the server's, stack/servers/nfacctd.py)."""

    name: str
    table: str
    directives: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CollectorConfig:
    plugins: tuple[Plugin, ...]
    maps: dict[str, str]  # file name in the maps directory -> text


def subscriber_networks(pool_ranges: Iterable[tuple[str, str]],
                        addresses: Iterable[str]) -> tuple[Network, ...]:
    """The pools' first..last ranges and the static addresses as the fewest networks,
    IPv4 before IPv6: the networks file grows with networks, not with logins."""
    found: list[Network] = []
    for first, last in pool_ranges:
        start, end = ipaddress.ip_address(first), ipaddress.ip_address(last)
        found.extend(ipaddress.summarize_address_range(start, end))
    for address in addresses:
        found.append(ipaddress.ip_network(address, strict=False))
    by_family = ([n for n in found if n.version == v] for v in (4, 6))
    return tuple(net for family in by_family for net in ipaddress.collapse_addresses(family))


# The static addresses outside every pool as runs of consecutive addresses (first,
# last): a run starts where the previous address is not this one minus one. Done in SQL
# because the beat asks every minute and an IPoE network may have 100,000s of them;
# Python's ipaddress took 16 s for 500,000.
STATIC_RUNS = """
WITH statics AS (
    SELECT DISTINCT host(s.ip_address)::inet AS a
      FROM subaccounts s
     WHERE s.ip_address IS NOT NULL
       AND NOT EXISTS (SELECT FROM ip_pools p
                        WHERE family(p.range_start) = family(s.ip_address)
                          AND host(s.ip_address)::inet
                              BETWEEN p.range_start AND p.range_end)
), marked AS (
    SELECT a, family(a) AS fam,
           CASE WHEN host(a) IN ('0.0.0.0', '::') THEN 1
                WHEN lag(a) OVER (PARTITION BY family(a) ORDER BY a) = a - 1 THEN 0
                ELSE 1 END AS starts
      FROM statics
), runs AS (
    SELECT a, fam, sum(starts) OVER (PARTITION BY fam ORDER BY a) AS run FROM marked
)
SELECT host(min(a)), host(max(a)) FROM runs GROUP BY fam, run ORDER BY fam, min(a)
"""


def load(conn: psycopg.Connection) -> CollectorInput:
    """Read the classes, the subscribers' networks and the exporters (the NAS table)."""
    nodes: dict[int, list[ClassNode]] = {}
    for class_id, network, protocol, port in conn.execute(
            "SELECT class_id, network::text, protocol, port FROM traffic_class_nodes"
            " ORDER BY class_id, id"):
        nodes.setdefault(class_id, []).append(
            ClassNode(ipaddress.ip_network(network), protocol, port))
    classes = tuple(
        TrafficClass(id_, name, weight, passthrough, store, tuple(nodes.get(id_, ())))
        for id_, name, weight, passthrough, store in conn.execute(
            "SELECT id, name, weight, passthrough, store FROM traffic_classes"
            " ORDER BY weight, id"))
    pools = conn.execute(
        "SELECT host(range_start), host(range_end) FROM ip_pools").fetchall()
    statics = conn.execute(STATIC_RUNS).fetchall()
    exporters = tuple(ipaddress.ip_address(r[0]) for r in conn.execute(
        "SELECT host(ip_address) FROM nas ORDER BY ip_address"))
    return CollectorInput(classes, subscriber_networks([*pools, *statics], ()), exporters)


def ordered(classes: Iterable[TrafficClass]) -> list[TrafficClass]:
    return sorted(classes, key=lambda c: (c.weight, c.id))


def node_rule(tag: int, node: ClassNode, direction: str, any_exporter: str = "0.0.0.0/0",
              label: str | None = None) -> str:
    """One pre_tag_map rule: the remote side's network, and its protocol and port."""
    side = REMOTE_SIDE[direction]
    rule = f"set_tag={tag} ip={any_exporter} {side}_net={node.network}"
    if node.port is not None and node.protocol in PORT_PROTOCOLS:
        rule += f" filter='{PORT_PROTOCOLS[node.protocol]} {side} port {node.port}'"
    elif node.protocol is not None:
        rule += f" filter='ip proto {node.protocol} or ip6 proto {node.protocol}'"
    return rule + (f" label={label}" if label else "")


def render_map(direction: str, exporters: Sequence[Address],
               classes: Sequence[TrafficClass]) -> str:
    """A plugin's pre_tag_map: per address family of the exporters, their tag2 rules,
    then the classes' nodes in the order given (the first matching rule wins).

    pmacct keeps an IPv4 and an IPv6 table of rules by the ``ip`` key and evaluates the
    one of the exporter's family, so the classes are written once per family present,
    and the exporters jump to their family's first class rule by a label (``jeq=next``
    did not resolve across the tables)."""
    tag2 = DIRECTION_TAG[direction]
    lines = [f"! {direction}: rendered from the nas and traffic_classes tables"]
    rules = [(tc.id, node) for tc in classes for node in tc.nodes]
    for version, any_exporter in ((4, "0.0.0.0/0"), (6, "::/0")):
        family = [a for a in exporters if a.version == version]
        if not family:
            continue
        label = f"classes_v{version}"
        jump = f" jeq={label}" if rules else ""
        lines.append(f"! IPv{version} exporters in the nas table: tag2 is the direction")
        lines += [f"set_tag2={tag2} ip={address}{jump}" for address in family]
        lines.append(f"! classes by weight, the remote side is the {REMOTE_SIDE[direction]}")
        last_class = None
        for n, (class_id, node) in enumerate(rules):
            if class_id != last_class:
                name = next(tc.name for tc in classes if tc.id == class_id)
                lines.append(f"! class {class_id}: {_comment(name)}")
                last_class = class_id
            lines.append(node_rule(class_id, node, direction, any_exporter,
                                   label if n == 0 else None))
    return "\n".join(lines) + "\n"


def reject_map(exporters: Sequence[Address]) -> str:
    lines = ["! reject: flows of senders that are not in the nas table keep tag2 0"]
    lines += [f"set_tag2=1 ip={address}" for address in exporters]
    return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    return " ".join(text.split())


def aggregate_filter(direction: str, networks: Sequence[Network]) -> str:
    side = LOCAL_SIDE[direction]
    return " or ".join(f"{side} net {net}" for net in networks)


def _tags(ids: Iterable[int]) -> str:
    return ",".join(str(i) for i in ids)


def prime_at_least(n: int) -> int:
    n |= 1
    while any(n % d == 0 for d in range(3, int(n ** 0.5) + 1, 2)):
        n += 2
    return n


def cache_entries(keys: int, limit: int = CACHE_ENTRIES_MAX) -> int:
    """A plugin's ``sql_cache_entries`` for at most ``keys`` keys in one bin: a prime of
    at least twice as many (with a tenth more), within [CACHE_ENTRIES_MIN, ``limit``]."""
    wanted = min(max(2 * keys + keys // 10, CACHE_ENTRIES_MIN), max(limit, CACHE_ENTRIES_MIN))
    return prime_at_least(wanted)


def bin_keys(networks: Sequence[Network], classes: int) -> int:
    """The most keys a counting plugin's bin can have: each subscriber address in each of
    the view's classes and in "no class" (an address is behind one exporter at a time)."""
    return sum(net.num_addresses for net in networks) * (classes + 1)


def networks_text(networks: Sequence[Network]) -> str:
    """pmacct's networks_file: one network a line."""
    return "".join(f"{net}\n" for net in networks)


def networks_file_name(networks: Sequence[Network]) -> str:
    """Named by its content, so that other networks are another directive (a restart,
    as the filter's change was) and never a file rewritten under a running plugin."""
    digest = hashlib.sha256(networks_text(networks).encode()).hexdigest()[:12]
    return f"subscribers-{digest}.networks"


def _counting_plugin(name: str, direction: str, map_path: Path, networks, *, table: str,
                     aggregate: str, tag_filter: str | None, entries: int,
                     networks_path: Path | None = None) -> Plugin:
    """``networks_path`` given: the subscriber side is kept by the plugin itself
    (networks_file_filter zeroes an address outside the networks, and the view drops
    0.0.0.0), so the core runs no filter; else by the core's aggregate_filter (the raw
    plugins, whose remote side must stay)."""
    if networks_path is not None:
        keep = [("networks_file", str(networks_path)), ("networks_file_filter", "true")]
    else:
        keep = [("aggregate_filter", aggregate_filter(direction, networks))]
    directives = [
        *([("sql_num_protos", "true")] if table == "flow_raw" else []),  # ip_proto smallint
        ("sql_cache_entries", str(entries)),
        ("aggregate", aggregate),
        *keep,
        ("pre_tag_map", str(map_path)),
        ("pre_tag2_filter", str(DIRECTION_TAG[direction])),
    ]
    if tag_filter is not None:
        directives.append(("pre_tag_filter", tag_filter))
    if table == "flow_raw":  # a raw row of nothing is worth nothing; bins count them
        directives.append(("sql_preprocess", "minb=1"))
    return Plugin(name, table, tuple(directives))


def build_config(found: CollectorInput, maps_dir: Path,
                 cache_limit: int = CACHE_ENTRIES_MAX) -> CollectorConfig:
    """The plugins and maps for what the database says; ``maps_dir`` is where the server
    writes the maps (their paths go into the plugins' directives). No plugin's cache is
    sized beyond ``cache_limit`` entries."""
    classes = ordered(found.classes)
    ordinary = [c for c in classes if not c.passthrough]
    maps = {f"{REJECT_PLUGIN}.map": reject_map(found.exporters)}
    plugins = [Plugin(REJECT_PLUGIN, "flow_rejects", (
        ("aggregate", "peer_src_ip"),
        ("pre_tag_map", str(maps_dir / f"{REJECT_PLUGIN}.map")),
        ("pre_tag2_filter", "0"),
        ("sql_preprocess", "minb=1"),
    ))]
    if not found.subscriber_networks:  # nothing of subscribers' to count
        return CollectorConfig(tuple(plugins), maps)
    networks_name = networks_file_name(found.subscriber_networks)
    maps[networks_name] = networks_text(found.subscriber_networks)
    views = [("", ordinary, None, [c.id for c in ordinary if c.store])]
    for p in classes:
        if p.passthrough and p.nodes:
            ahead = [c for c in ordinary if (c.weight, c.id) < (p.weight, p.id)]
            views.append((f"pass{p.id}_", [*ahead, p], str(p.id), [p.id] if p.store else []))
    for prefix, view_classes, tag_filter, stored in views:
        for direction in ("in", "out"):
            map_name = f"{prefix}{direction}.map"
            maps[map_name] = render_map(direction, found.exporters, view_classes)
            path = maps_dir / map_name
            keys = bin_keys(found.subscriber_networks, len(view_classes))
            plugins.append(_counting_plugin(
                f"{prefix}{direction}", direction, path, found.subscriber_networks,
                table="flow_bins", aggregate=BIN_AGGREGATE[direction], tag_filter=tag_filter,
                entries=cache_entries(keys, cache_limit),
                networks_path=maps_dir / networks_name))
            if stored:
                plugins.append(_counting_plugin(
                    f"{prefix}raw_{direction}", direction, path, found.subscriber_networks,
                    table="flow_raw", aggregate=RAW_AGGREGATE, tag_filter=_tags(stored),
                    entries=cache_entries(RAW_KEYS_PER_BIN_KEY * keys, cache_limit)))
    return CollectorConfig(tuple(plugins), maps)


def build(conn: psycopg.Connection, maps_dir: Path,
          cache_limit: int = CACHE_ENTRIES_MAX) -> CollectorConfig:
    return build_config(load(conn), maps_dir, cache_limit)
