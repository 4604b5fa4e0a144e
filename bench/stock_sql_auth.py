"""The operator's alternative to our authorize, for ``ebs bench radius-auth``: stock
FreeRADIUS with rlm_sql PostgreSQL authorize over radcheck / radusergroup / radgroupcheck
/ radgroupreply, the stock post-auth log (radpostauth), and rlm_sqlippool leasing from
radippool. Tables, queries and module settings have the shape of the shipped
``mods-config/sql/main/postgresql`` and ``sql/ippool/postgresql`` files (which the service
account cannot read under /etc/freeradius), including 3.2.1's defaults: sqlippool takes
the oldest expired address ``FOR UPDATE`` without SKIP LOCKED, one hour leases keyed by
NAS-Port.
"""

from __future__ import annotations

import psycopg

from bench.radius_common import baseline_site

SCHEMA = """
CREATE TABLE radcheck (id serial PRIMARY KEY, username text NOT NULL DEFAULT '',
    attribute text NOT NULL DEFAULT '', op varchar(2) NOT NULL DEFAULT '==',
    value text NOT NULL DEFAULT '');
CREATE INDEX radcheck_username ON radcheck (username, attribute);
CREATE TABLE radreply (id serial PRIMARY KEY, username text NOT NULL DEFAULT '',
    attribute text NOT NULL DEFAULT '', op varchar(2) NOT NULL DEFAULT '=',
    value text NOT NULL DEFAULT '');
CREATE INDEX radreply_username ON radreply (username, attribute);
CREATE TABLE radgroupcheck (id serial PRIMARY KEY, groupname text NOT NULL DEFAULT '',
    attribute text NOT NULL DEFAULT '', op varchar(2) NOT NULL DEFAULT '==',
    value text NOT NULL DEFAULT '');
CREATE INDEX radgroupcheck_groupname ON radgroupcheck (groupname, attribute);
CREATE TABLE radgroupreply (id serial PRIMARY KEY, groupname text NOT NULL DEFAULT '',
    attribute text NOT NULL DEFAULT '', op varchar(2) NOT NULL DEFAULT '=',
    value text NOT NULL DEFAULT '');
CREATE INDEX radgroupreply_groupname ON radgroupreply (groupname, attribute);
CREATE TABLE radusergroup (id serial PRIMARY KEY, username text NOT NULL DEFAULT '',
    groupname text NOT NULL DEFAULT '', priority integer NOT NULL DEFAULT 0);
CREATE INDEX radusergroup_username ON radusergroup (username);
CREATE TABLE radpostauth (id bigserial PRIMARY KEY, username text NOT NULL, pass text,
    reply text, calledstationid text, callingstationid text,
    authdate timestamptz NOT NULL DEFAULT now(), class text);
CREATE TABLE radippool (id bigserial PRIMARY KEY, pool_name text NOT NULL,
    framedipaddress inet NOT NULL, nasipaddress text NOT NULL DEFAULT '',
    pool_key text NOT NULL DEFAULT '0', calledstationid text,
    callingstationid text NOT NULL DEFAULT '',
    expiry_time timestamptz NOT NULL DEFAULT 'epoch', username text DEFAULT '');
CREATE INDEX radippool_poolname_expire ON radippool (pool_name, expiry_time);
CREATE INDEX radippool_framedipaddress ON radippool (framedipaddress);
CREATE INDEX radippool_nasip_poolkey_ipaddress
    ON radippool (nasipaddress, pool_key, framedipaddress);
-- The stock server logs in as FreeRADIUS's role, like ours.
GRANT SELECT ON radcheck, radreply, radgroupcheck, radgroupreply, radusergroup
    TO ebs_radius;
GRANT INSERT ON radpostauth TO ebs_radius;
GRANT USAGE ON SEQUENCE radpostauth_id_seq TO ebs_radius;
GRANT SELECT, UPDATE ON radippool TO ebs_radius;
"""


def seed(conn: psycopg.Connection, logins: str, password: str, pool_size: int) -> None:
    """The same users and password, one group with a rate limit and the pool, and a
    radippool of ``pool_size`` addresses from 10.64.0.1. ``logins`` is a query giving
    the user names."""
    conn.execute(SCHEMA)
    conn.execute(f"INSERT INTO radcheck (username, attribute, op, value)"
                 f" SELECT login, 'Cleartext-Password', ':=', %s FROM ({logins}) u",
                 (password,))
    conn.execute(f"INSERT INTO radusergroup (username, groupname)"
                 f" SELECT login, 'bench' FROM ({logins}) u")
    conn.execute("INSERT INTO radgroupcheck (groupname, attribute, op, value)"
                 " VALUES ('bench', 'Pool-Name', ':=', 'bench')")
    conn.execute("INSERT INTO radgroupreply (groupname, attribute, op, value) VALUES"
                 " ('bench', 'Mikrotik-Rate-Limit', '=', '10M/20M'),"
                 " ('bench', 'Acct-Interim-Interval', '=', '300')")
    conn.execute("INSERT INTO radippool (pool_name, framedipaddress)"
                 " SELECT 'bench', '10.64.0.1'::inet + g FROM generate_series(0, %s - 1) g",
                 (pool_size,))
    conn.execute("VACUUM ANALYZE")


SITE = baseline_site(
    "The baseline: stock rlm_sql authorize and post-auth log, rlm_sqlippool leases.",
    """\
	authorize {
		sql
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
	post-auth {
		sqlippool
		sql
	}
	accounting {
		ok
	}
""")

# The stock module settings that matter, with the same connection pool as ours.
SQL_MODULE = """\
sql {
	dialect = "postgresql"
	driver = "rlm_sql_postgresql"
	server = "{{ db_host }}"
	port = {{ db_port }}
	login = "{{ db_user }}"
	password = "{{ db_password }}"
	radius_db = "{{ db_name }}"
	read_clients = no
	read_groups = yes
	read_profiles = no
	sql_user_name = "%{User-Name}"
	group_attribute = "SQL-Group"
	pool {
		start = 0
		min = {{ db_pool_min }}
		spare = {{ db_pool_max }}
		max = {{ db_pool_max }}
		uses = 0
		lifetime = 0
		idle_timeout = 0
		retry_delay = 5
		connect_timeout = 1.0
	}
	authorize_check_query = "SELECT id, UserName, Attribute, Value, Op FROM radcheck \\
		WHERE Username = '%{SQL-User-Name}' ORDER BY id"
	authorize_reply_query = "SELECT id, UserName, Attribute, Value, Op FROM radreply \\
		WHERE Username = '%{SQL-User-Name}' ORDER BY id"
	group_membership_query = "SELECT GroupName FROM radusergroup \\
		WHERE UserName = '%{SQL-User-Name}' ORDER BY priority"
	authorize_group_check_query = "SELECT id, GroupName, Attribute, Value, op \\
		FROM radgroupcheck WHERE GroupName = '%{${group_attribute}}' ORDER BY id"
	authorize_group_reply_query = "SELECT id, GroupName, Attribute, Value, op \\
		FROM radgroupreply WHERE GroupName = '%{${group_attribute}}' ORDER BY id"
	post-auth {
		query = "INSERT INTO radpostauth (username, pass, reply, calledstationid, \\
			callingstationid, authdate, class) VALUES ('%{User-Name}', \\
			'%{%{User-Password}:-CHAP-PASSWORD}', '%{reply:Packet-Type}', \\
			'%{Called-Station-Id}', '%{Calling-Station-Id}', NOW(), '%{reply:Class}')"
	}
}
"""

SQLIPPOOL_MODULE = """\
sqlippool {
	sql_module_instance = "sql"
	dialect = "postgresql"
	pool_name = "Pool-Name"
	ippool_table = "radippool"
	lease_duration = 3600
	allocate_clear_timeout = 1
	attribute_name = Framed-IP-Address
	req_attribute_name = Framed-IP-Address
	pool_key = "%{NAS-Port}"
	skip_locked = ""
	allocate_begin = ""
	allocate_commit = ""
	allocate_existing = "WITH cte AS (SELECT framedipaddress FROM radippool \\
		WHERE pool_name = '%{control:Pool-Name}' AND nasipaddress = '%{NAS-IP-Address}' \\
		AND pool_key = '${pool_key}' ORDER BY expiry_time DESC LIMIT 1 FOR UPDATE) \\
		UPDATE radippool SET nasipaddress = '%{NAS-IP-Address}', pool_key = '${pool_key}', \\
		callingstationid = '%{Calling-Station-Id}', username = '%{SQL-User-Name}', \\
		expiry_time = 'now'::timestamp(0) + '${lease_duration} second'::interval \\
		FROM cte WHERE cte.framedipaddress = radippool.framedipaddress \\
		RETURNING cte.framedipaddress"
	allocate_find = "WITH cte AS (SELECT framedipaddress FROM radippool \\
		WHERE pool_name = '%{control:Pool-Name}' AND expiry_time < 'now'::timestamp(0) \\
		ORDER BY expiry_time LIMIT 1 FOR UPDATE) \\
		UPDATE radippool SET nasipaddress = '%{NAS-IP-Address}', pool_key = '${pool_key}', \\
		callingstationid = '%{Calling-Station-Id}', username = '%{SQL-User-Name}', \\
		expiry_time = 'now'::timestamp(0) + '${lease_duration} second'::interval \\
		FROM cte WHERE cte.framedipaddress = radippool.framedipaddress \\
		RETURNING cte.framedipaddress"
	pool_check = "SELECT id FROM radippool WHERE pool_name='%{control:Pool-Name}' LIMIT 1"
	messages {
		exists = "Existing IP"
		success = "Allocated IP"
		clear = "Released IP"
		failed = "IP Allocation FAILED"
		nopool = "No Pool-Name"
	}
}
"""


def templates_files() -> dict[str, str]:
    """Files for ``baseline_templates``: the stock sql module replaces ours."""
    return {"mods-enabled/sql": SQL_MODULE, "mods-enabled/sqlippool": SQLIPPOOL_MODULE}
