-- Staff users and roles: Flask-AppBuilder 5.3's security tables, created here rather than
-- by FAB's create_all so ledger entries, audit rows and cashier shifts can reference staff
-- by foreign key. Column types follow FAB's models exactly (a test compares them).

CREATE SEQUENCE ab_permission_id_seq;
CREATE TABLE ab_permission (
    id integer NOT NULL DEFAULT nextval('ab_permission_id_seq') PRIMARY KEY,
    name varchar(100) NOT NULL UNIQUE
);

CREATE SEQUENCE ab_view_menu_id_seq;
CREATE TABLE ab_view_menu (
    id integer NOT NULL DEFAULT nextval('ab_view_menu_id_seq') PRIMARY KEY,
    name varchar(250) NOT NULL UNIQUE
);

CREATE SEQUENCE ab_role_id_seq;
CREATE TABLE ab_role (
    id integer NOT NULL DEFAULT nextval('ab_role_id_seq') PRIMARY KEY,
    name varchar(64) NOT NULL UNIQUE
);

CREATE SEQUENCE ab_group_id_seq;
CREATE TABLE ab_group (
    id integer NOT NULL DEFAULT nextval('ab_group_id_seq') PRIMARY KEY,
    name varchar(100) NOT NULL UNIQUE,
    label varchar(150),
    description varchar(512)
);

CREATE SEQUENCE ab_user_id_seq;
CREATE TABLE ab_user (
    id integer NOT NULL DEFAULT nextval('ab_user_id_seq') PRIMARY KEY,
    first_name varchar(64) NOT NULL,
    last_name varchar(64) NOT NULL,
    username varchar(128) NOT NULL UNIQUE,
    password varchar(256),
    active boolean,
    email varchar(320) NOT NULL UNIQUE,
    last_login timestamp without time zone,
    login_count integer,
    fail_login_count integer,
    created_on timestamp without time zone,
    changed_on timestamp without time zone,
    created_by_fk integer REFERENCES ab_user (id),
    changed_by_fk integer REFERENCES ab_user (id)
);

CREATE SEQUENCE ab_register_user_id_seq;
CREATE TABLE ab_register_user (
    id integer NOT NULL DEFAULT nextval('ab_register_user_id_seq') PRIMARY KEY,
    first_name varchar(64) NOT NULL,
    last_name varchar(64) NOT NULL,
    username varchar(128) NOT NULL UNIQUE,
    password varchar(256),
    email varchar(320) NOT NULL UNIQUE,
    registration_date timestamp without time zone,
    registration_hash varchar(256)
);

CREATE SEQUENCE ab_api_key_id_seq;
CREATE TABLE ab_api_key (
    id integer NOT NULL DEFAULT nextval('ab_api_key_id_seq') PRIMARY KEY,
    uuid varchar(36) NOT NULL UNIQUE,
    name varchar(256) NOT NULL,
    key_hash varchar(256) NOT NULL,
    lookup_hash varchar(256) UNIQUE,
    key_prefix varchar(16) NOT NULL,
    user_id integer NOT NULL REFERENCES ab_user (id) ON DELETE CASCADE,
    scopes text,
    active boolean NOT NULL,
    created_on timestamp without time zone,
    expires_on timestamp without time zone,
    revoked_on timestamp without time zone,
    last_used_on timestamp without time zone
);
CREATE UNIQUE INDEX idx_api_key_lookup_hash ON ab_api_key (lookup_hash);
CREATE INDEX idx_api_key_prefix ON ab_api_key (key_prefix);
CREATE INDEX idx_api_key_user_id ON ab_api_key (user_id);

CREATE SEQUENCE ab_group_role_id_seq;
CREATE TABLE ab_group_role (
    id integer NOT NULL DEFAULT nextval('ab_group_role_id_seq') PRIMARY KEY,
    group_id integer REFERENCES ab_group (id) ON DELETE CASCADE,
    role_id integer REFERENCES ab_role (id) ON DELETE CASCADE,
    UNIQUE (group_id, role_id)
);
CREATE INDEX idx_group_role_id ON ab_group_role (role_id);
CREATE INDEX idx_group_id ON ab_group_role (group_id);

CREATE SEQUENCE ab_permission_view_id_seq;
CREATE TABLE ab_permission_view (
    id integer NOT NULL DEFAULT nextval('ab_permission_view_id_seq') PRIMARY KEY,
    permission_id integer NOT NULL REFERENCES ab_permission (id),
    view_menu_id integer NOT NULL REFERENCES ab_view_menu (id),
    UNIQUE (permission_id, view_menu_id)
);
CREATE INDEX idx_permission_id ON ab_permission_view (permission_id);
CREATE INDEX idx_view_menu_id ON ab_permission_view (view_menu_id);

CREATE SEQUENCE ab_user_group_id_seq;
CREATE TABLE ab_user_group (
    id integer NOT NULL DEFAULT nextval('ab_user_group_id_seq') PRIMARY KEY,
    user_id integer REFERENCES ab_user (id) ON DELETE CASCADE,
    group_id integer REFERENCES ab_group (id) ON DELETE CASCADE,
    UNIQUE (user_id, group_id)
);
CREATE INDEX idx_user_group_id ON ab_user_group (group_id);
CREATE INDEX idx_user_id ON ab_user_group (user_id);

CREATE SEQUENCE ab_user_role_id_seq;
CREATE TABLE ab_user_role (
    id integer NOT NULL DEFAULT nextval('ab_user_role_id_seq') PRIMARY KEY,
    user_id integer REFERENCES ab_user (id) ON DELETE CASCADE,
    role_id integer REFERENCES ab_role (id) ON DELETE CASCADE,
    UNIQUE (user_id, role_id)
);

CREATE SEQUENCE ab_permission_view_role_id_seq;
CREATE TABLE ab_permission_view_role (
    id integer NOT NULL DEFAULT nextval('ab_permission_view_role_id_seq') PRIMARY KEY,
    permission_view_id integer REFERENCES ab_permission_view (id) ON DELETE CASCADE,
    role_id integer REFERENCES ab_role (id) ON DELETE CASCADE,
    UNIQUE (permission_view_id, role_id)
);
CREATE INDEX idx_role_id ON ab_permission_view_role (role_id);
CREATE INDEX idx_permission_view_id ON ab_permission_view_role (permission_view_id);

-- The three staff roles; their permissions are granted by the web app's role sync.
INSERT INTO ab_role (name) VALUES ('Admin'), ('Cashier'), ('ReadOnly');
