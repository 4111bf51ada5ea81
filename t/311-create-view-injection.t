# create_view under attack: SQL in field names, values, view names, input
# names and GeoJSON (quotes, semicolons, comments, dollar quoting,
# backslashes, Unicode) gives either a correct view, whose rows are checked
# against the same condition run by DBI with a bound parameter, or a clear
# error.  The victim table must survive unchanged, and nothing but the
# expected views may appear.
use strict;
use warnings;
use utf8;
use Test::More;
use JSON::PP;
use GW;

binmode(Test::More->builder->$_, ':utf8') for qw(output failure_output todo_output);

# GW::job() decodes the jsonb text with decode_json, which wants bytes, but
# DBD::Pg (pg_enable_utf8) hands characters: non-ASCII params would die.
# Decode characters here instead.
{
	no warnings 'redefine';
	my $chars = JSON::PP->new;
	*GW::job = sub {
		my ($self, $id) = @_;
		my $row = $self->dbh->selectrow_hashref('SELECT *, params::text AS params_text,
		    result::text AS result_text FROM background_jobs WHERE id = ?', undef, $id) or return undef;
		$row->{$_} = defined $row->{"${_}_text"} ? $chars->decode($row->{"${_}_text"}) : undef
		    for qw(result params);
		return $row;
	};
}

my $t = GW->new;
$t->config;
my $dbh = $t->dbh;
my $weird = q{weird"; DROP TABLE victim; --};
my $qweird = $dbh->quote_identifier($weird);
$dbh->do(qq{CREATE TABLE victim (id integer PRIMARY KEY, label text, $qweird text,
    geom geometry(Point, 4326))});

my @values = (
	q{x'; DROP TABLE victim; --},
	q{x''; DROP TABLE victim; --},
	q{'},
	q{''},
	q{"},
	q{\\},
	q{\\'; DROP TABLE victim; --},
	q{$$; DROP TABLE victim; $$},
	q{$q$ DROP TABLE victim $q$},
	q{/* x */ DROP TABLE victim},
	q{-- DROP TABLE victim},
	q{E'\\x41'},
	q{U&'\\0041'},
	"tab\there\nnewline",
	'Ünïcødé “quotes” ‘single’ 日本語 ́',
	"\x{2028}line separator",
	q{%_ like wildcards \\% \\_},
	q{a},
);
my $sth = $dbh->prepare("INSERT INTO victim VALUES (?, ?, ?, ST_SetSRID(ST_MakePoint(6, 49.6 + ? / 1000.0), 4326))");
$sth->execute($_ + 1, $values[$_], $values[$_], $_) for 0 .. $#values;
$sth->execute(100, undef, 'plain', 100);
my $nrows = @values + 1;

my @created;
sub ids_view { $t->psql("SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM analysis.$_[0]") }
sub ids_truth {
	my ($where, @bind) = @_;
	my $ids = $dbh->selectcol_arrayref("SELECT id FROM victim WHERE $where ORDER BY id", undef, @bind);
	return join(',', @$ids);
}

# Each hostile value, as = and LIKE and IN, gives the rows DBI finds with it
# bound as a parameter.
my $k = 0;
for my $v (@values) {
	$k++;
	my $show = $v =~ s/\n/\\n/gr;
	for my $op ('=', 'like', 'ilike', '!=') {
		my $name = "inj_${k}_" . ($op eq '=' ? 'eq' : $op eq '!=' ? 'ne' : $op);
		my $job = $t->run_job('create_view', { input => 'victim', name => $name,
		    filter => { all => [{ field => 'label', op => $op, value => $v }] } });
		if ($op =~ /like/ && $v =~ /(?<!\\)(\\\\)*\\$/) {
			# A pattern ending with the escape character: PostgreSQL
			# refuses it, and so does the job, before any view.
			is($job->{status}, 'failed', "value [$show] $op: refused");
			like($job->{error_message}, qr/filter.all\[0\].value: not a valid LIKE pattern/,
			    "value [$show] $op: clear message");
			next;
		}
		is($job->{status}, 'completed', "value [$show] $op: completed")
		    or diag($job->{error_message}), next;
		push @created, $name;
		my $sqlop = $op eq '!=' ? '<>' : uc $op;
		is(ids_view($name), ids_truth("label $sqlop ?", $v), "value [$show] $op: the rows DBI finds");
	}
}
my $job = $t->run_job('create_view', { input => 'victim', name => 'inj_in',
    filter => { field => 'label', op => 'in', value => \@values } });
is($job->{status}, 'completed', 'in with every hostile value: completed');
push @created, 'inj_in';
is(ids_view('inj_in'), join(',', 1 .. @values), 'in with every hostile value: every hostile row');

# A real column whose name is hostile: usable, quoted, also in columns.
$job = $t->run_job('create_view', { input => 'victim', name => 'inj_weird', columns => ['id', $weird],
    filter => { any => [{ field => $weird, op => '=', value => 'plain' }, { field => $weird, op => 'like', value => '%DROP%' }] } });
is($job->{status}, 'completed', 'hostile column name that exists: completed') or diag($job->{error_message});
push @created, 'inj_weird';
is(ids_view('inj_weird'), ids_truth("$qweird = 'plain' OR $qweird LIKE '%DROP%'"), 'hostile column name: right rows');
is_deeply([map { $_->{name} } @{ $job->{result}{columns} }], ['id', $weird], 'hostile column name: kept as is');

# Refused with a clear message.
my @refused = (
	[{ filter => { field => 'label; DROP TABLE victim; --', op => '=', value => 'x' } }, qr/no column "label; DROP TABLE victim; --"/],
	[{ filter => { field => 'label" = label OR "1', op => 'is_null' } }, qr/no column/],
	[{ filter => { field => 'label', op => '= 1; DROP TABLE victim; --', value => 'x' } }, qr/unknown op/],
	[{ filter => { field => 'id', op => '=', value => '1; DROP TABLE victim' } }, qr/filter.value: "id" is integer; expected a number/],
	[{ filter => { field => 'id', op => '=', value => '1 OR 1=1' } }, qr/"id" is integer; expected a number|not a valid integer/],
	[{ columns => ['id', 'label FROM victim; DROP TABLE victim; --'] }, qr/columns\[1\]: no column/],
	[{ name => 'v; DROP TABLE victim' }, qr/name: expected a plain identifier/],
	[{ name => 'v"; DROP TABLE victim; --' }, qr/name: expected a plain identifier/],
	[{ name => 'vüe' }, qr/name: expected a plain identifier/],
	[{ name => 'v$$x' }, qr/name: expected a plain identifier/],
	[{ name => 'x' x 64 }, qr/name: expected a plain identifier/],
	[{ input => 'victim; DROP TABLE victim' }, qr/input: no table or view/],
	[{ input => 'public.victim" ; DROP TABLE victim; --' }, qr/input: no table or view/],
	[{ input => 'pg_catalog.pg_class; --' }, qr/input: no table or view/],
	[{ spatial_filter => { geometry => q<{"type":"Point","coordinates":[6,49.6]}'); DROP TABLE victim; --> } },
	    qr/spatial_filter.geometry: not valid JSON/],
	[{ spatial_filter => { geometry => { type => q{Point'); DROP TABLE victim; --}, coordinates => [6, 49.6] } } },
	    qr/spatial_filter.geometry: not a GeoJSON geometry PostGIS can read/],
	[{ spatial_filter => { geometry => { type => 'Point', coordinates => [6, 49.6] }, srid => '4326); DROP TABLE victim; --' } },
	    qr/spatial_filter.srid: expected a positive integer/],
	[{ spatial_filter => { geometry => { type => 'Point', coordinates => [6, 49.6] }, predicate => 'dwithin',
	    distance => '1); DROP TABLE victim; --' } }, qr/spatial_filter.distance/],
	[{ spatial_filter => { geometry => { type => 'Point', coordinates => [6, 49.6] }, predicate => "intersects'); DROP TABLE victim; --" } },
	    qr/spatial_filter.predicate/],
	[{ geometry_column => 'geom; DROP TABLE victim' }, qr/geometry_column: no column/],
);
for my $case (@refused) {
	my ($p, $re) = @$case;
	my $job = $t->run_job('create_view', { input => 'victim', name => 'refused', %$p });
	is($job->{status}, 'failed', "refused: $re");
	like($job->{error_message} // '', $re, "clear message: $re") or diag($job->{error_message});
}

# Hostile text inside a GeoJSON member PostGIS ignores: either way no SQL.
$job = $t->run_job('create_view', { input => 'victim', name => 'inj_geojson', spatial_filter => {
    geometry => { type => 'Polygon', coordinates => [[[5.9, 49.5], [6.1, 49.5], [6.1, 49.61], [5.9, 49.61], [5.9, 49.5]]],
	note => q{'); DROP TABLE victim; -- $$ ' "} } } });
if ($job->{status} eq 'completed') {
	push @created, 'inj_geojson';
	is(ids_view('inj_geojson'), ids_truth("ST_Intersects(geom, ST_MakeEnvelope(5.9, 49.5, 6.1, 49.61, 4326))"),
	    'hostile GeoJSON member: correct view');
} else {
	like($job->{error_message}, qr/spatial_filter/, 'hostile GeoJSON member: clear error');
}

# Nesting too deep is refused, not a stack overflow.
my $deep = { field => 'id', op => '=', value => 1 };
$deep = { all => [$deep] } for 1 .. 40;
$job = $t->run_job('create_view', { input => 'victim', name => 'deep', filter => $deep });
like($job->{error_message} // '', qr/nested deeper than 16 levels/, 'deep nesting refused');

# The victim survived, unchanged, and only the expected views exist.
is($t->psql('SELECT count(*) FROM victim'), $nrows, 'victim table intact');
is($t->psql("SELECT count(*) FROM victim WHERE label IS NOT DISTINCT FROM $qweird OR id = 100"), $nrows,
    'victim rows unchanged');
my $views = $dbh->selectcol_arrayref("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'analysis' ORDER BY 1");
is_deeply($views, [sort @created], 'only the expected views were created');

done_testing;
