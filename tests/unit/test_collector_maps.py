"""nfacctd's plugins and pre_tag_maps as rendered from what the database says: classes by
weight, the remote side per direction, exporters first, passthrough classes in their own
plugins, stored classes' raw plugins, the subscribers' networks collapsed."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from flow.collector_maps import (
    CACHE_ENTRIES_MAX,
    CACHE_ENTRIES_MIN,
    ClassNode,
    CollectorInput,
    TrafficClass,
    build_config,
    cache_entries,
    networks_file_name,
    node_rule,
    prime_at_least,
    render_map,
    subscriber_networks,
)

MAPS = Path("/srv/nfacctd/maps")
net = ipaddress.ip_network
EXPORTERS = (ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("2001:db8::1"))


def test_networks_are_collapsed_not_one_per_login():
    found = subscriber_networks(
        [("10.0.0.0", "10.0.0.255"), ("10.0.1.0", "10.0.1.255"), ("10.2.0.1", "10.2.0.6"),
         ("2001:db8:1::", "2001:db8:1::ffff")],
        ["10.0.0.7", "10.9.0.5", "10.9.0.4", "2001:db8:2::1"])
    assert [str(n) for n in found] == [
        "10.0.0.0/23", "10.2.0.1/32", "10.2.0.2/31", "10.2.0.4/31", "10.2.0.6/32",
        "10.9.0.4/31", "2001:db8:1::/112", "2001:db8:2::1/128"]
    assert subscriber_networks([], []) == ()


def test_a_node_matches_the_remote_side_with_its_protocol_and_port():
    web = ClassNode(net("192.0.2.0/24"), 6, 443)
    assert node_rule(4, web, "in") == \
        "set_tag=4 ip=0.0.0.0/0 src_net=192.0.2.0/24 filter='tcp src port 443'"
    assert node_rule(4, web, "out") == \
        "set_tag=4 ip=0.0.0.0/0 dst_net=192.0.2.0/24 filter='tcp dst port 443'"
    gre = ClassNode(net("198.51.100.0/24"), 47)
    assert node_rule(5, gre, "out") == ("set_tag=5 ip=0.0.0.0/0 dst_net=198.51.100.0/24"
                                        " filter='ip proto 47 or ip6 proto 47'")
    assert node_rule(6, ClassNode(net("2001:db8::/32")), "in", "::/0", "classes_v6") == \
        "set_tag=6 ip=::/0 src_net=2001:db8::/32 label=classes_v6"


def rules(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("!")]


def test_a_map_tags_exporters_first_then_classes_in_the_order_given():
    classes = [TrafficClass(2, "b", 10, nodes=(ClassNode(net("192.0.2.0/25")),)),
               TrafficClass(1, "a\nname", 20, nodes=(ClassNode(net("192.0.2.0/24")),
                                                     ClassNode(net("2001:db8::/32"))))]
    text = render_map("out", EXPORTERS, classes)
    # pmacct evaluates the rules of the exporter's address family only: once per family
    assert rules(text) == [
        "set_tag2=2 ip=192.0.2.1 jeq=classes_v4",
        "set_tag=2 ip=0.0.0.0/0 dst_net=192.0.2.0/25 label=classes_v4",
        "set_tag=1 ip=0.0.0.0/0 dst_net=192.0.2.0/24",
        "set_tag=1 ip=0.0.0.0/0 dst_net=2001:db8::/32",
        "set_tag2=2 ip=2001:db8::1 jeq=classes_v6",
        "set_tag=2 ip=::/0 dst_net=192.0.2.0/25 label=classes_v6",
        "set_tag=1 ip=::/0 dst_net=192.0.2.0/24",
        "set_tag=1 ip=::/0 dst_net=2001:db8::/32",
    ]
    assert "! class 1: a name" in text.splitlines()  # a name never breaks the map
    # without classes no jump to a label that is not there; without exporters no rules
    assert rules(render_map("in", EXPORTERS[:1], [])) == ["set_tag2=1 ip=192.0.2.1"]
    assert rules(render_map("in", (), classes)) == []


CLASSES = (
    TrafficClass(7, "world", 90, nodes=(ClassNode(net("0.0.0.0/0")),)),
    TrafficClass(3, "local", 10, store=True, nodes=(ClassNode(net("192.0.2.0/24")),)),
    TrafficClass(5, "peering", 20, passthrough=True, nodes=(ClassNode(net("203.0.113.0/24")),)),
    TrafficClass(6, "empty pass", 30, passthrough=True),
    TrafficClass(4, "dns", 10, nodes=(ClassNode(net("198.51.100.0/24"), 17, 53),)),
)


def config(**changes):
    found = CollectorInput(CLASSES, (net("10.0.0.0/24"), net("10.9.0.5/32")), EXPORTERS)
    return build_config(CollectorInput(**{**found.__dict__, **changes}), MAPS)


def directives(plugin) -> dict[str, str]:
    return dict(plugin.directives)


def test_plugins_per_direction_passthrough_and_store():
    made = config()
    by_name = {p.name: p for p in made.plugins}
    assert list(by_name) == ["reject", "in", "raw_in", "out", "raw_out", "pass5_in",
                             "pass5_out"]  # no plugins for a passthrough class without nodes
    assert {p.table for p in made.plugins} == {"flow_rejects", "flow_bins", "flow_raw"}
    inbound = directives(by_name["in"])
    networks = inbound["networks_file"]
    assert inbound == {
        "aggregate": "dst_host, tag, tag2, peer_src_ip",
        # the plugin zeroes an address outside the networks (flow_bin_rows drops it),
        # so the core runs no filter for the counting plugins
        "networks_file": networks,
        "networks_file_filter": "true",
        "pre_tag_map": str(MAPS / "in.map"),
        "pre_tag2_filter": "1",
        "sql_cache_entries": "65537",  # 257 addresses: the least a plugin gets
    }  # no tag filter: a flow of no class is written as class 0
    name = networks.removeprefix(f"{MAPS}/")
    assert made.maps[name] == "10.0.0.0/24\n10.9.0.5/32\n"
    assert directives(by_name["out"])["networks_file"] == networks
    assert directives(by_name["pass5_out"])["networks_file"] == networks
    assert directives(by_name["out"])["pre_tag2_filter"] == "2"
    # other networks are another file, so another directive: the plugins restart
    assert networks_file_name((net("10.0.0.0/24"),)) != name
    # ordinary classes by weight then id; the passthrough classes are not in the main map
    assert [r.split()[0] for r in rules(made.maps["in.map"])][:4] == [
        "set_tag2=1", "set_tag=3", "set_tag=4", "set_tag=7"]
    # the passthrough map: ordinary classes ahead of it, then its own nodes
    assert [r.split()[0] for r in rules(made.maps["pass5_in.map"])][:4] == [
        "set_tag2=1", "set_tag=3", "set_tag=4", "set_tag=5"]
    assert directives(by_name["pass5_out"])["pre_tag_filter"] == "5"
    raw = directives(by_name["raw_out"])
    # raw rows keep both ends, so their plugins keep the core's filter of the networks
    assert raw["aggregate_filter"] == "src net 10.0.0.0/24 or src net 10.9.0.5/32"
    assert "networks_file" not in raw
    assert (raw["pre_tag_filter"], raw["pre_tag_map"], raw["sql_num_protos"]) == \
        ("3", str(MAPS / "out.map"), "true")
    assert raw["aggregate"] == "src_host, dst_host, proto, src_port, dst_port"
    # zero-byte aggregates: counted by the rater from flow_bins, worthless as raw rows
    assert raw["sql_preprocess"] == "minb=1" and "sql_preprocess" not in inbound


def test_unknown_exporters_are_counted_by_the_reject_plugin():
    made = config()
    reject = directives(made.plugins[0])
    assert (reject["aggregate"], reject["pre_tag2_filter"]) == ("peer_src_ip", "0")
    assert rules(made.maps["reject.map"]) == ["set_tag2=1 ip=192.0.2.1",
                                             "set_tag2=1 ip=2001:db8::1"]
    # no NAS at all: every flow is refused and counted
    alone = config(exporters=())
    assert rules(alone.maps["reject.map"]) == []
    assert rules(alone.maps["in.map"]) == []


def test_without_subscriber_networks_only_rejects_are_counted():
    made = config(subscriber_networks=())
    assert [p.name for p in made.plugins] == ["reject"]
    assert list(made.maps) == ["reject.map"]


def test_a_plugins_cache_holds_two_bins_of_every_address_in_every_class():
    """pmacct's queue of entries is sql_cache_entries + 6,000 long; a purge interval
    makes up to two bins' keys, and a queue that fills miscounts (collector_maps)."""
    wide = config(subscriber_networks=(net("10.0.0.0/16"),))
    by_name = {p.name: p for p in wide.plugins}
    keys = 65536 * (3 + 1)  # the main view: three ordinary classes and "no class"
    entries = int(directives(by_name["in"])["sql_cache_entries"])
    assert 2 * keys <= entries < 2 * keys * 1.2
    assert is_prime(entries)
    passthrough = int(directives(by_name["pass5_out"])["sql_cache_entries"])
    assert passthrough >= 2 * 65536 * (3 + 1)  # its view: the two ahead of it, itself
    raw = int(directives(by_name["raw_in"])["sql_cache_entries"])
    assert raw == CACHE_ENTRIES_MAX  # eight peers an address a minute is past the limit


def test_cache_sizes_stay_within_their_bounds():
    assert cache_entries(0) == CACHE_ENTRIES_MIN
    assert cache_entries(10**12) == CACHE_ENTRIES_MAX
    assert cache_entries(10**12, limit=100_000) == prime_at_least(100_000)
    huge = config(subscriber_networks=(net("2001:db8::/64"),))
    assert {int(directives(p)["sql_cache_entries"]) for p in huge.plugins[1:]} == {
        CACHE_ENTRIES_MAX}


def is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))
