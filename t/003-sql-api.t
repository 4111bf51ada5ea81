# The SQL API an application calls (geoworkerd_enqueue, _cancel, _retry,
# _keep, _dismiss, _expire), job keys under concurrency, the geoworkerd_done
# notification, and the WHEN clauses that keep a claim out of PL/pgSQL.
# One daemon run at the end: dismissing a running job leaves no output.
use strict;
use warnings;
use Test::More;
use GW;
use DBI;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep time);

my $t = GW->new;
my $dbh = $t->dbh;
my $json = JSON::PP->new->canonical;

# A second connection of our own, notices shown (GW's handle hides them).
sub connect_db {
	my $h = DBI->connect('dbi:Pg:dbname=' . $t->dbname, undef, undef,
	    { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
	$h->do('SET client_min_messages = notice');
	return $h;
}
my $db = connect_db();

# Runs one statement, returns (first column of the first row, notices).
sub call {
	my ($sql, @bind) = @_;
	my @notices;
	local $SIG{__WARN__} = sub { push @notices, $_[0] };
	my ($v) = $db->selectrow_array($sql, undef, @bind);
	return ($v, join('', @notices));
}

sub status { $t->psql("SELECT coalesce((SELECT status FROM background_jobs WHERE id = $_[0]), 'gone')") }
sub rel_exists { $t->psql("SELECT to_regclass('$_[0]') IS NOT NULL") eq 't' }

# Drains the notifications of a handle, waiting up to $wait seconds for the
# first: [[channel, payload], ...].
sub notifies {
	my ($h, $wait) = @_;
	my @got;
	my $deadline = time + ($wait // 2);
	while (1) {
		while (my $n = $h->pg_notifies) { push @got, [$n->[0], $n->[2]]; }
		last if @got || time > $deadline;
		sleep 0.02;
	}
	return @got;
}

# --- enqueue -------------------------------------------------------------

my ($id) = call(q{SELECT geoworkerd_enqueue('dissolve', '{"input": "a"}')});
like($id, qr/^\d+$/, 'enqueue returns the new id');
is($t->psql("SELECT job_type || ' ' || status || ' ' || params::text || ' ' || priority || ' ' || coalesce(max_attempts::text, 'null') || ' ' || coalesce(job_key, 'null') || ' ' || (run_after <= now()) FROM background_jobs WHERE id = $id"),
   'dissolve queued {"input": "a"} 0 null null true', 'with the defaults');
my ($id2) = call(q{SELECT geoworkerd_enqueue('clip', '{}', 5, now() + interval '1 hour', 3, 'k1')});
is($t->psql("SELECT priority || ' ' || max_attempts || ' ' || job_key || ' ' || (run_after > now() + interval '59 minutes') FROM background_jobs WHERE id = $id2"),
   '5 3 k1 true', 'priority, run_after, max_attempts and job_key are stored');
my ($named) = call(q{SELECT geoworkerd_enqueue('clip', '{}', job_key => 'k2', priority => 2)});
is($t->psql("SELECT priority || ' ' || job_key FROM background_jobs WHERE id = $named"), '2 k2',
   'named arguments work');

for my $bad (["''", "'{}'", qr/job_type must be a non-empty string/],
    ['NULL', "'{}'", qr/job_type must be a non-empty string/],
    ["'clip'", "'[1,2]'", qr/params must be a JSON object, not array/],
    ["'clip'", q{'"x"'}, qr/params must be a JSON object, not string/],
    ["'clip'", "'{}', 0, now(), 0", qr/max_attempts must be NULL or at least 1/],
    ["'clip'", "'{}', job_key => ''", qr/job_key must be NULL or a non-empty string/]) {
	my $before = $t->psql('SELECT count(*) FROM background_jobs');
	eval { call("SELECT geoworkerd_enqueue($bad->[0], $bad->[1])") };
	like($@, $bad->[2], "enqueue($bad->[0], $bad->[1]) is refused");
	is($t->psql('SELECT count(*) FROM background_jobs'), $before, '... and queues nothing');
}

# --- job keys --------------------------------------------------------------

my ($k1) = call(q{SELECT geoworkerd_enqueue('clip', '{"other": 1}', job_key => 'k1')});
is($k1, $id2, 'a key a queued job holds returns that job');
is($t->psql("SELECT params::text FROM background_jobs WHERE id = $id2"), '{}',
   '... and leaves it as it was');
my ($k1b) = call(q{SELECT geoworkerd_enqueue('dissolve', '{}', job_key => 'k1')});
isnt($k1b, $id2, 'the same key on another type is another job');
$dbh->do(q{UPDATE background_jobs SET status = 'running' WHERE id = ?}, undef, $id2);
is((call(q{SELECT geoworkerd_enqueue('clip', '{}', job_key => 'k1')}))[0], $id2,
   'a key a running job holds returns that job');
for my $end (qw(completed failed cancelled)) {
	$dbh->do(q{UPDATE background_jobs SET status = ? WHERE id = ?}, undef, $end, $id2);
	my ($new) = call(q{SELECT geoworkerd_enqueue('clip', '{}', job_key => 'k1')});
	isnt($new, $id2, "a $end job does not block a new job with its key");
	$dbh->do(q{UPDATE background_jobs SET status = ? WHERE id = ?}, undef, $end, $new);
}

# 50 processes, each with its own connection, released at once.
{
	my $n = 50;
	pipe(my $ready_r, my $ready_w) or die "pipe: $!";
	pipe(my $go_r, my $go_w) or die "pipe: $!";
	pipe(my $out_r, my $out_w) or die "pipe: $!";
	my @pids;
	for (1 .. $n) {
		my $pid = fork // die "fork: $!";
		if ($pid == 0) {
			close $ready_r; close $go_w; close $out_r;
			$dbh->{InactiveDestroy} = 1;
			my $h = DBI->connect('dbi:Pg:dbname=' . $t->dbname, undef, undef,
			    { RaiseError => 0, PrintError => 0, AutoCommit => 1 });
			syswrite $ready_w, 'r';
			sysread $go_r, my $buf, 1;	# EOF: go
			my ($got) = $h ? $h->selectrow_array(
			    q{SELECT geoworkerd_enqueue('hotspot_analysis', '{"field": "pop"}', job_key => 'map-7')})
			    : ();
			syswrite $out_w, ($got // 'error: ' . ($h ? $h->errstr : $DBI::errstr)) . "\n";
			$h->disconnect if $h;
			POSIX::_exit(0);
		}
		push @pids, $pid;
	}
	close $ready_w; close $go_r; close $out_w;
	my $ready = 0;
	while ($ready < $n && sysread($ready_r, my $buf, 64)) { $ready += length $buf; }
	is($ready, $n, "$n clients connected");
	close $go_w;
	my @ids = map { chomp; $_ } <$out_r>;
	waitpid($_, 0) for @pids;
	my %distinct = map { $_ => 1 } @ids;
	is(scalar @ids, $n, "$n concurrent enqueues of one key returned");
	is(join(',', keys %distinct), $t->psql(q{SELECT string_agg(id::text, ',') FROM background_jobs WHERE job_key = 'map-7'}),
	   '... all the same id, that of the one job holding the key')
	    or diag join(' ', @ids);
	is($t->psql(q{SELECT count(*) FROM background_jobs WHERE job_key = 'map-7'}), 1, 'exactly one job was queued');
}

eval { $dbh->do(q{INSERT INTO background_jobs (job_type, job_key) VALUES ('hotspot_analysis', 'map-7')}) };
like($@, qr/background_jobs_key_idx/, 'a plain INSERT of a live key is refused by the unique index');

# --- cancel, retry, keep ---------------------------------------------------

my ($c1) = call(q{SELECT geoworkerd_enqueue('clip', '{}')});
my ($r, $notice) = call('SELECT geoworkerd_cancel(?)', $c1);
is($r, 1, 'cancel of a queued job returns true');
is($t->psql("SELECT status || ' ' || (completed_at IS NOT NULL) FROM background_jobs WHERE id = $c1"),
   'cancelled true', '... the job is cancelled, completed_at set');
($r, $notice) = call('SELECT geoworkerd_cancel(?)', $c1);
is($r, 0, 'cancel of a cancelled job returns false');
like($notice, qr/job $c1 is already cancelled; nothing to cancel/, '... and a NOTICE says why');
my ($c2) = call(q{SELECT geoworkerd_enqueue('clip', '{}')});
$dbh->do(q{UPDATE background_jobs SET status = 'running', attempts = 1 WHERE id = ?}, undef, $c2);
$db->do('LISTEN geoworkerd_cancel');
($r) = call('SELECT geoworkerd_cancel(?)', $c2);
is($r, 1, 'cancel of a running job returns true');
is_deeply([notifies($db)], [['geoworkerd_cancel', $c2]], '... and notifies the master');
$db->do('UNLISTEN geoworkerd_cancel');
$dbh->do(q{UPDATE background_jobs SET status = 'completed' WHERE id = ?}, undef, $id);
($r, $notice) = call('SELECT geoworkerd_cancel(?)', $id);
is($r, 0, 'cancel of a completed job returns false');
like($notice, qr/job $id is already completed/, '... saying so');
is(status($id), 'completed', '... and leaves it completed');
($r, $notice) = call('SELECT geoworkerd_cancel(-1)');
is($r, 0, 'cancel of a missing job returns false');
like($notice, qr/there is no job -1/, '... saying so');

$dbh->do(q{UPDATE background_jobs SET status = 'failed', attempts = 3, error_message = 'boom',
	worker_host = 'n1', worker_pid = 5, progress = 0.5, completed_at = now(),
	run_after = now() + interval '1 hour' WHERE id = ?}, undef, $c2);
($r) = call('SELECT geoworkerd_retry(?)', $c2);
is($r, 1, 'retry of a failed job returns true');
is($t->psql("SELECT status || ' ' || attempts || ' ' || coalesce(error_message, 'null') || ' ' || coalesce(worker_host, 'null') || ' ' || progress || ' ' || (completed_at IS NULL) || ' ' || (run_after <= now()) FROM background_jobs WHERE id = $c2"),
   'queued 0 null null 0 true true', '... queued again as new: attempts 0, no error');
($r) = call('SELECT geoworkerd_retry(?)', $c1);
is($r, 1, 'retry of a cancelled job returns true');
($r, $notice) = call('SELECT geoworkerd_retry(?)', $c1);
is($r, 0, 'retry of a queued job returns false');
like($notice, qr/job $c1 is queued; only a failed or cancelled job can be retried/, '... saying why');
($r, $notice) = call('SELECT geoworkerd_retry(?)', $id);
is($r, 0, 'retry of a completed job returns false');
my ($kf) = call(q{SELECT geoworkerd_enqueue('clip', '{}', job_key => 'k9')});
$dbh->do(q{UPDATE background_jobs SET status = 'failed' WHERE id = ?}, undef, $kf);
my ($kq) = call(q{SELECT geoworkerd_enqueue('clip', '{}', job_key => 'k9')});
($r, $notice) = call('SELECT geoworkerd_retry(?)', $kf);
is($r, 0, 'retry of a job whose key a live job holds returns false');
like($notice, qr/holds its job_key/, '... saying why');
is(status($kf), 'failed', '... and leaves it failed');

# --- geoworkerd_done -------------------------------------------------------

my $listen = connect_db();
$listen->do('LISTEN geoworkerd_done');
my ($d1) = call(q{SELECT geoworkerd_enqueue('selftest', '{}', job_key => 'dk')});
# What a child does: claim, then complete; the claim says nothing.
$dbh->do(q{UPDATE background_jobs SET status = 'running', attempts = attempts + 1, started_at = now(),
	worker_host = 'n1', worker_pid = 1 WHERE id = ?}, undef, $d1);
is_deeply([notifies($listen, 0.3)], [], 'a claim sends no geoworkerd_done');
$dbh->do(q{UPDATE background_jobs SET status = 'completed', result = '{"output": "x"}', completed_at = now() WHERE id = ?}, undef, $d1);
my @n = notifies($listen);
is(scalar @n, 1, 'completion sends one notification');
is($n[0][0], 'geoworkerd_done', '... on geoworkerd_done');
is_deeply($json->decode($n[0][1]), { id => $d1, job_type => 'selftest', status => 'completed',
    attempts => 1, job_key => 'dk', error_message => undef }, '... with id, job_type, status, attempts, job_key');
my ($d2) = call(q{SELECT geoworkerd_enqueue('selftest', '{}')});
$dbh->do(q{UPDATE background_jobs SET status = 'running', attempts = 1 WHERE id = ?}, undef, $d2);
$dbh->do(q{UPDATE background_jobs SET status = 'failed', error_message = ? WHERE id = ?}, undef, 'é' x 9000, $d2);
@n = notifies($listen);
my $p = JSON::PP->new->decode($n[0][1] // '{}');
is_deeply([$p->{id}, $p->{status}], [$d2, 'failed'], 'failure sends geoworkerd_done');
is(length($p->{error_message} // ''), 500, '... with the error message cut to 500 characters (9000 in the row)');
my ($d3) = call(q{SELECT geoworkerd_enqueue('selftest', '{}')});
call('SELECT geoworkerd_cancel(?)', $d3);
@n = notifies($listen);
is_deeply([map { $json->decode($_->[1])->{status} . ' ' . $json->decode($_->[1])->{id} } @n],
    ["cancelled $d3"], 'cancelling a queued job sends geoworkerd_done');
$dbh->do(q{UPDATE background_jobs SET status = 'cancelled' WHERE id = ?}, undef, $d3);
is_deeply([notifies($listen, 0.3)], [], 'an update that leaves the status as it was sends nothing');
$dbh->do(q{UPDATE background_jobs SET status = 'completed', job_type = ? WHERE id = ?}, undef, 'y' x 7000, $d3);
@n = notifies($listen);
is(length($json->decode($n[0][1] // '{}')->{job_type} // ''), 200, 'a 7000-character job type cannot make the payload too long');

# --- the WHEN clauses --------------------------------------------------------
# Counted in this transaction by pg_stat_xact_user_functions (track_functions).
{
	my ($w) = call(q{SELECT geoworkerd_enqueue('selftest', '{}')});
	my $calls = sub {
		my %c = map { @$_ } @{ $dbh->selectall_arrayref(q{SELECT funcname, calls
		    FROM pg_stat_xact_user_functions WHERE funcname LIKE 'geoworkerd_notify%'}) };
		return join(' ', map { "$_=" . ($c{$_} // 0) } qw(geoworkerd_notify geoworkerd_notify_done));
	};
	$dbh->do(q{SET track_functions = 'all'});
	$dbh->begin_work;
	# The claim of src/worker.c, and a heartbeat with progress of src/db.c.
	$dbh->do(q{UPDATE background_jobs j SET status = 'running', attempts = j.attempts + 1,
		started_at = now(), heartbeat_at = now(), completed_at = NULL, worker_host = 'n',
		worker_pid = 1, progress = 0, progress_message = NULL, error_message = NULL, result = NULL
		FROM (SELECT id FROM background_jobs WHERE status = 'queued' AND job_type = 'selftest'
		      AND id = ? ORDER BY priority DESC, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) c
		WHERE j.id = c.id}, undef, $w);
	$dbh->do(q{UPDATE background_jobs SET heartbeat_at = now(), progress = 0.5,
		progress_message = 'half' WHERE id = ?}, undef, $w);
	is($calls->(), 'geoworkerd_notify=0 geoworkerd_notify_done=0',
	   'a claim and a heartbeat call no trigger function');
	$dbh->do(q{UPDATE background_jobs SET status = 'completed', completed_at = now() WHERE id = ?}, undef, $w);
	is($calls->(), 'geoworkerd_notify=0 geoworkerd_notify_done=1', 'completion calls the done trigger once');
	$dbh->do(q{INSERT INTO background_jobs (job_type, status) VALUES ('selftest', 'queued'), ('selftest', 'completed')});
	is($calls->(), 'geoworkerd_notify=1 geoworkerd_notify_done=1', 'an insert calls the queue trigger for a queued row only');
	$dbh->rollback;
	$dbh->do(q{RESET track_functions});
}

# --- dismiss -----------------------------------------------------------------

# A finished job with a result, as a job program writes it.
sub finished {
	my ($type, $status, $result, $ago) = @_;
	return $dbh->selectrow_array(q{INSERT INTO background_jobs (job_type, status, result, completed_at, attempts)
	    VALUES (?, ?, ?, now() - ?::interval, 1) RETURNING id}, undef, $type, $status,
	    defined $result ? $json->encode($result) : undef, $ago // '0');
}
my $relations = q{SELECT string_agg(n.nspname || '.' || c.relname, '|' ORDER BY n.nspname, c.relname) FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('analysis', 'public')
	AND c.relkind IN ('r', 'v', 'm')};

$dbh->do($_) for (q{CREATE TABLE analysis.dissolve_1 AS SELECT 1 AS a},
    q{CREATE TABLE analysis.ts_1 AS SELECT 1 AS a}, q{CREATE TABLE analysis.ts_1_bins AS SELECT 1 AS a},
    q{CREATE VIEW analysis.v_1 AS SELECT 1 AS a}, q{CREATE MATERIALIZED VIEW analysis.mv_1 AS SELECT 1 AS a},
    q{CREATE TABLE public.victim AS SELECT 1 AS a}, q{CREATE TABLE analysis.bystander AS SELECT 1 AS a},
    q{CREATE TABLE analysis."Odd; DROP TABLE public.victim" AS SELECT 1 AS a});
my $all = $t->psql($relations);

my $j = finished('dissolve', 'completed', { output => 'analysis.dissolve_1', feature_count => 1 });
($r) = call('SELECT geoworkerd_dismiss(?)', $j);
is($r, 1, 'dismiss of a completed job returns true');
is(status($j), 'gone', '... deletes its row');
ok(!rel_exists('analysis.dissolve_1'), '... and drops its output table');
$j = finished('hotspot_timeseries', 'completed', { output => 'analysis.ts_1', bins_output => 'analysis.ts_1_bins' });
call('SELECT geoworkerd_dismiss(?)', $j);
ok(!rel_exists('analysis.ts_1') && !rel_exists('analysis.ts_1_bins'), 'hotspot_timeseries: the table and its _bins go');
$j = finished('create_view', 'completed', { output => 'analysis.v_1', view => 'v_1', schema => 'analysis' });
call('SELECT geoworkerd_dismiss(?)', $j);
ok(!rel_exists('analysis.v_1'), 'create_view: the view goes');
$j = finished('create_view', 'completed', { output => 'analysis.mv_1', materialized => JSON::PP::true });
call('SELECT geoworkerd_dismiss(?)', $j);
ok(!rel_exists('analysis.mv_1'), 'create_view: the materialized view goes');
is($t->psql($relations), join('|', grep { !/dissolve_1|ts_1|v_1/ } split /\|/, $all),
   'nothing else was dropped');

# Hostile or stale results: nothing outside the output schema, nothing not named.
$all = $t->psql($relations);
for my $out ('public.victim', 'victim', 'analysis.victim', 'analysis.bystander; DROP TABLE public.victim',
    'analysis."bystander"', 'pg_catalog.pg_class', 'analysis.Odd; DROP TABLE public.victim', '', '.', 'analysis.') {
	$j = finished('dissolve', 'completed', { output => $out, bins_output => $out });
	($r) = call('SELECT geoworkerd_dismiss(?)', $j);
	is($r, 1, "dismiss with output '$out' removes the job");
}
$j = finished('dissolve', 'completed', { output => { schema => 'public', name => 'victim' } });
call('SELECT geoworkerd_dismiss(?)', $j);
$j = finished('dissolve', 'completed', [ 'public.victim' ]);
call('SELECT geoworkerd_dismiss(?)', $j);
is($t->psql($relations), join('|', grep { !/^analysis\.Odd;/ } split /\|/, $all),
   '... and drops no table: not outside analysis, not one it does not name exactly');
ok(rel_exists('public.victim') && !rel_exists('analysis."Odd; DROP TABLE public.victim"'),
   'a name is an identifier, never SQL: "analysis.Odd; DROP TABLE public.victim" dropped that table, not public.victim');

# What the application took over stays.
$j = finished('dissolve', 'completed', { output => 'analysis.bystander' });
($r) = call('SELECT geoworkerd_keep(?)', $j);
is($r, 1, 'keep of a completed job returns true');
is($t->psql("SELECT result->>'keep' FROM background_jobs WHERE id = $j"), 'true', '... and flags its result');
($r, $notice) = call('SELECT geoworkerd_dismiss(?)', $j);
ok(rel_exists('analysis.bystander') && status($j) eq 'gone', 'dismiss of a kept job deletes the row, keeps the output');
my ($q) = call(q{SELECT geoworkerd_enqueue('clip', '{}')});
($r, $notice) = call('SELECT geoworkerd_keep(?)', $q);
is($r, 0, 'keep of a queued job returns false');
my $j1 = finished('dissolve', 'completed', { output => 'analysis.bystander' });
my $j2 = finished('dissolve', 'completed', { output => 'analysis.bystander' });
($r, $notice) = call('SELECT geoworkerd_dismiss(?)', $j1);
ok(rel_exists('analysis.bystander'), 'an output another job also names (overwrite) is not dropped');
like($notice, qr/also another job's/, '... saying so');
$dbh->do(q{CREATE VIEW public.app_view AS SELECT * FROM analysis.bystander});
($r, $notice) = call('SELECT geoworkerd_dismiss(?)', $j2);
is($r, 1, 'dismiss of a job whose output the application built a view on returns true');
ok(rel_exists('analysis.bystander') && status($j2) eq 'gone', '... keeps the output, deletes the row');
like($notice, qr/other objects depend on it/, '... saying why');
$dbh->do(q{DROP VIEW public.app_view});

# Files go to geoworkerd_trash, only inside the job's own directory.
$j = finished('raster_clip', 'completed', {});
$dbh->do(q{UPDATE background_jobs SET result = jsonb_build_object('output', '/srv/out/' || id || '/dem.tif', 'path', '/srv/out/' || id || '/dem.tif') WHERE id = ?}, undef, $j);
call('SELECT geoworkerd_dismiss(?)', $j);
is($t->psql("SELECT path FROM geoworkerd_trash WHERE job_id = $j"), "/srv/out/$j/dem.tif", 'a raster file goes to geoworkerd_trash');
for my $path ('/etc/passwd', "/srv/out/$j/../../etc/passwd", "relative/$j/x.tif", "/srv/out/${j}0/x.tif") {
	my $h = finished('raster_clip', 'completed', { path => $path, output => $path });
	call('SELECT geoworkerd_dismiss(?)', $h);
	is($t->psql("SELECT count(*) FROM geoworkerd_trash WHERE path = " . $dbh->quote($path)), 0, "... not '$path'");
}

# Dismiss of a queued job cancels it first (notify), then deletes it.
$listen->do('LISTEN geoworkerd_cancel');
notifies($listen, 0);
($q) = call(q{SELECT geoworkerd_enqueue('clip', '{}')});
($r) = call('SELECT geoworkerd_dismiss(?)', $q);
is($r, 1, 'dismiss of a queued job returns true');
is(status($q), 'gone', '... the row is gone');
is_deeply([map { $_->[0] } notifies($listen)], ['geoworkerd_done'], '... and geoworkerd_done said cancelled');
my ($run) = call(q{SELECT geoworkerd_enqueue('clip', '{}')});
$dbh->do(q{UPDATE background_jobs SET status = 'running' WHERE id = ?}, undef, $run);
call('SELECT geoworkerd_dismiss(?)', $run);
is_deeply([sort map { $_->[0] } notifies($listen)], ['geoworkerd_cancel', 'geoworkerd_done'],
    'dismiss of a running job tells the master to kill its child');
($r, $notice) = call('SELECT geoworkerd_dismiss(-5)');
is($r, 0, 'dismiss of a missing job returns false');
like($notice, qr/there is no job -5/, '... saying so');

# Permissions: the application's role calls dismiss once granted, and it
# drops an output owned by another role.
{
	my $role = "gw_app_$$";
	$dbh->do(qq{CREATE ROLE $role});
	$dbh->do(q{CREATE TABLE analysis.owned_1 AS SELECT 1 AS a});
	$j = finished('dissolve', 'completed', { output => 'analysis.owned_1' });
	$db->do(qq{SET ROLE $role});
	eval { $db->selectrow_array('SELECT geoworkerd_dismiss(?)', undef, $j) };
	like($@, qr/permission denied for function geoworkerd_dismiss/, 'dismiss is not granted to PUBLIC');
	$db->do('RESET ROLE');
	$dbh->do(qq{GRANT EXECUTE ON FUNCTION geoworkerd_dismiss(bigint) TO $role});
	$db->do(qq{SET ROLE $role});
	($r) = call('SELECT geoworkerd_dismiss(?)', $j);
	$db->do('RESET ROLE');
	is($r, 1, 'granted, the role dismisses a job');
	ok(!rel_exists('analysis.owned_1'), '... and its output goes, though the role owns neither it nor the queue');
	$dbh->do(qq{REVOKE ALL ON FUNCTION geoworkerd_dismiss(bigint) FROM $role});
	$dbh->do(qq{DROP ROLE $role});
}

# --- expire ------------------------------------------------------------------

$dbh->do(q{DELETE FROM background_jobs});
$dbh->do(q{DELETE FROM geoworkerd_trash});
my (%expect, @keep);
for my $i (1 .. 6) {
	$dbh->do(qq{CREATE TABLE analysis.old_$i AS SELECT 1 AS a});
	push @{ $expect{completed} }, finished('dissolve', 'completed', { output => "analysis.old_$i" }, "$i days 1 hour");
}
$dbh->do(q{CREATE TABLE analysis.young AS SELECT 1 AS a});
push @keep, finished('dissolve', 'completed', { output => 'analysis.young' }, '23 hours');
push @keep, finished('clip', 'completed', undef, '10 days');		# another type
push @keep, finished('dissolve', 'failed', undef, '10 days');		# another status
for my $live (qw(queued running)) {
	push @keep, $dbh->selectrow_array(q{INSERT INTO background_jobs (job_type, status, created_at, completed_at)
	    VALUES ('dissolve', ?, now() - interval '10 days', now() - interval '10 days') RETURNING id}, undef, $live);
}
# A row from before the upgrade: no completed_at, counted from created_at.
push @{ $expect{completed} }, $dbh->selectrow_array(q{INSERT INTO background_jobs (job_type, status, created_at)
    VALUES ('dissolve', 'completed', now() - interval '40 days') RETURNING id});

eval { call(q{SELECT geoworkerd_expire('dissolve', 'running', '1 day')}) };
like($@, qr/status must be completed, failed or cancelled/, 'expire refuses a live status');

# Another session holds the lock of (dissolve, completed): expire does nothing.
my $other = connect_db();
$other->do(q{SELECT pg_advisory_lock(hashtext('geoworkerd_expire'), hashtext('dissolve/completed'))});
($r) = call(q{SELECT geoworkerd_expire('dissolve', 'completed', '1 day')});
is($r, 0, 'expire returns 0 while another node expires the same type and status');
$other->do(q{SELECT pg_advisory_unlock_all()});

# A row another transaction holds is skipped, not waited for.
my $held = $expect{completed}[0];
$other->begin_work;
$other->do('SELECT 1 FROM background_jobs WHERE id = ? FOR UPDATE', undef, $held);
my $t0 = time;
($r) = call(q{SELECT geoworkerd_expire('dissolve', 'completed', '1 day', 3)});
is($r, 3, 'expire deletes a batch of 3');
($r) = call(q{SELECT geoworkerd_expire('dissolve', 'completed', '1 day', 100)});
is($r, 3, 'then the rest but the locked one');
cmp_ok(time - $t0, '<', 5, '... without waiting for it');
is(status($held), 'completed', 'the locked row is still there');
$other->rollback;

# Meanwhile, other sessions keep enqueueing, claiming and finishing jobs.
my $busy = fork // die "fork: $!";
if ($busy == 0) {
	$dbh->{InactiveDestroy} = 1;
	$db->{InactiveDestroy} = 1;
	$listen->{InactiveDestroy} = 1;
	$other->{InactiveDestroy} = 1;
	my $h = DBI->connect('dbi:Pg:dbname=' . $t->dbname, undef, undef, { RaiseError => 1, PrintError => 0 });
	for (1 .. 200) {
		my ($i) = $h->selectrow_array(q{SELECT geoworkerd_enqueue('dissolve', '{}')});
		$h->do(q{UPDATE background_jobs SET status = 'running' WHERE id = ?}, undef, $i);
		$h->do(q{UPDATE background_jobs SET status = 'completed', completed_at = now() WHERE id = ?}, undef, $i);
	}
	POSIX::_exit(0);
}
my $total = 0;
for (1 .. 20) {
	($r) = call(q{SELECT geoworkerd_expire('dissolve', 'completed', '1 day', 1)});
	$total += $r;
	sleep 0.01;
}
waitpid($busy, 0);
is($total, 1, 'under concurrent activity, expire deletes just the one left');
is($t->psql(q{SELECT count(*) FROM background_jobs WHERE job_type = 'dissolve' AND status = 'completed' AND completed_at > now() - interval '1 hour'}),
   200, '... and none of the 200 jobs finished meanwhile');
is($t->psql('SELECT count(*) FROM background_jobs WHERE id IN (' . join(',', @{ $expect{completed} }) . ')'), 0,
   'every expired job is gone');
is($t->psql('SELECT count(*) FROM background_jobs WHERE id IN (' . join(',', @keep) . ')'), scalar @keep,
   'every other job is still there (younger, other type, other status, queued, running)');
ok(!grep({ rel_exists("analysis.old_$_") } 1 .. 6), 'the expired jobs\' outputs are dropped');
ok(rel_exists('analysis.young'), 'the younger job\'s output is not');
($r) = call(q{SELECT geoworkerd_expire('dissolve', 'failed', '1 day')});
is($r, 1, 'expire of failed jobs is separate');

# --- a real daemon: dismissing a running job leaves no output --------------------

$t->start_daemon(types => { selftest => {} });
my ($live) = call(q{SELECT geoworkerd_enqueue('selftest', '{"sleep": 3, "table": "dismissed_out"}')});
ok($t->wait_for(sub { status($live) eq 'running' }, 20), 'the daemon runs the job');
($r) = call('SELECT geoworkerd_dismiss(?)', $live);
is($r, 1, 'dismiss of the running job returns true');
ok($t->wait_for(sub { $t->log_text =~ /job $live cancelled; killing child/ }, 10), 'the master kills its child')
    or diag $t->log_text;
sleep 4;
ok(!rel_exists('analysis.dismissed_out'), 'no output was left behind');
is(status($live), 'gone', 'and no row');
$t->stop_daemon;

$_->disconnect for ($db, $listen, $other);
done_testing;
