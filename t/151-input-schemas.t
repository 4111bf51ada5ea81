# input_schemas: a job may read tables and views only in the schemas listed
# (plus the output schema), whatever the spelling: plain, quoted, through
# search_path.  A refused name fails the job at once, naming the parameter
# and the rule, reads nothing and leaves no output.  A view in an allowed
# schema may select from elsewhere: its owner chose to expose those rows.
# create_view makes security_invoker views, so a reader sees through a view
# only what the reader may see; its materialized views are granted only to
# output_readers.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $dbh = $t->dbh;
$dbh->do(q{CREATE SCHEMA secret_s});
for my $tab ('secret_s.pts', 'public.pts') {
	$dbh->do(qq{CREATE TABLE $tab (id serial PRIMARY KEY, v float8, geom geometry(Point, 32633))});
	$dbh->do(qq{INSERT INTO $tab (v, geom) SELECT (g * 37 % 11)::float8,
		ST_SetSRID(ST_MakePoint(500000 + (g % 10) * 100, 5000000 + (g / 10) * 100), 32633)
		FROM generate_series(0, 99) g});
}
$dbh->do(q{CREATE VIEW public.exposed AS SELECT * FROM secret_s.pts});
my $cfg = { daemon => { input_schemas => 'public' } };
my %p = (field => 'v', conceptualization => 'k_nearest', k => 4);
my $before = $t->psql(q{SELECT count(*) FROM pg_class WHERE relnamespace = 'analysis'::regnamespace});

{
	my $j = $t->run_job('hotspot_analysis', { %p, input => 'secret_s.pts' }, config => $cfg);
	is($j->{status}, 'failed', 'schema-qualified: refused');
	like($j->{error_message} // '', qr/^input: secret_s\.pts is in schema secret_s, which jobs may not read \(input_schemas: public/,
	     'schema-qualified: the message names the parameter and the rule');
}
for my $case (['"secret_s"."pts"', 'quoted'], ['SECRET_S.pts', 'in upper case']) {
	# Names are matched as the catalog spells them: a spelling that
	# resolves to nothing is refused as unknown, and reads nothing either.
	my ($input, $what) = @$case;
	my $j = $t->run_job('hotspot_analysis', { %p, input => $input }, config => $cfg);
	is($j->{status}, 'failed', "$what: refused");
	like($j->{error_message} // '', qr/^input: (secret_s\.pts is in schema secret_s|table .* does not exist)/,
	     "$what: by the rule or as no such table");
}
{
	# search_path: an unqualified name that resolves into a forbidden
	# schema is refused as well.
	$t->psql(sprintf(q{ALTER DATABASE "%s" SET search_path = secret_s, public}, $t->dbname));
	my $j = $t->run_job('hotspot_analysis', { %p, input => 'pts' }, config => $cfg);
	is($j->{status}, 'failed', 'search_path: refused');
	like($j->{error_message} // '', qr/^input: secret_s\.pts is in schema secret_s/, 'search_path: the schema it resolved to is named');
	$t->psql(sprintf(q{ALTER DATABASE "%s" RESET search_path}, $t->dbname));
}
my $near = $t->run_job('nearest_analysis', { input => 'public.pts', near => 'secret_s.pts' }, config => $cfg);
like($near->{error_message} // '', qr/^near: secret_s\.pts is in schema secret_s/, 'nearest_analysis near: refused by name');
my $clip = $t->run_job('clip', { input => 'public.pts', clip => 'secret_s.pts' }, config => $cfg);
like($clip->{error_message} // '', qr/^clip: secret_s\.pts is in schema secret_s/, 'clip: refused by name');
my $view = $t->run_job('create_view', { input => 'secret_s.pts', name => 'v_secret' }, config => $cfg);
like($view->{error_message} // '', qr/^input: secret_s\.pts is in schema secret_s/, 'create_view input: refused');
is($t->psql(q{SELECT count(*) FROM pg_class WHERE relnamespace = 'analysis'::regnamespace}), $before,
   'no refused job left an output');
is($t->psql(q{SELECT count(*) FROM secret_s.pts}), 100, 'the data is untouched');

my $ok = $t->run_job('hotspot_analysis', { %p, input => 'public.pts' }, config => $cfg);
is($ok->{status}, 'completed', 'a table in an allowed schema is read') or diag $ok->{error_message};
my $exp = $t->run_job('hotspot_analysis', { %p, input => 'public.exposed', id_column => 'id' }, config => $cfg);
is($exp->{status}, 'completed', 'a view in an allowed schema is read, whatever it selects from (its owner exposed it)')
    or diag $exp->{error_message};
my $wide = $t->run_job('hotspot_analysis', { %p, input => 'secret_s.pts' },
    config => { daemon => { input_schemas => 'public, secret_s' } });
is($wide->{status}, 'completed', 'listing the schema allows it');

# create_view: security_invoker views; materialized views for output_readers only.
$dbh->do(q{DO $$ BEGIN CREATE ROLE gw_reader_151 LOGIN PASSWORD 'r151';
	EXCEPTION WHEN duplicate_object THEN NULL; END $$});
$dbh->do(q{DO $$ BEGIN CREATE ROLE gw_other_151 LOGIN PASSWORD 'o151';
	EXCEPTION WHEN duplicate_object THEN NULL; END $$});
$dbh->do(q{GRANT USAGE ON SCHEMA analysis TO gw_reader_151, gw_other_151});
my $vcfg = { daemon => { input_schemas => 'public', output_readers => 'gw_reader_151' } };
my $v = $t->run_job('create_view', { input => 'public.pts', name => 'v_pts' }, config => $vcfg);
is($v->{status}, 'completed', 'create_view makes a view') or diag $v->{error_message};
is($t->psql(q{SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class WHERE oid = 'analysis.v_pts'::regclass}),
   'security_invoker=true', '... with security_invoker');
my $as = sub {
	my ($role, $pw, $sql) = @_;
	local $ENV{PGPASSWORD} = $pw;
	my $o = `psql -X -A -t -h localhost -U $role -d @{[$t->dbname]} -c "$sql" 2>&1`;
	chomp $o;
	return $o;
};
like($as->('gw_reader_151', 'r151', 'SELECT count(*) FROM analysis.v_pts'), qr/permission denied for table pts/,
     'a reader granted the view but not its base table reads nothing through it');
my $m = $t->run_job('create_view', { input => 'public.pts', name => 'm_pts', materialized => JSON::PP::true }, config => $vcfg);
is($m->{status}, 'completed', 'create_view makes a materialized view') or diag $m->{error_message};
is($as->('gw_reader_151', 'r151', 'SELECT count(*) FROM analysis.m_pts'), '100', 'output_readers read the materialized view (the owner\'s snapshot)');
like($as->('gw_other_151', 'o151', 'SELECT count(*) FROM analysis.m_pts'), qr/permission denied/, 'another role does not');
done_testing;
