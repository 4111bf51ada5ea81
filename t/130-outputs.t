# The application's side of outputs: two live jobs never write one output
# name; retention removes exactly the expired jobs with their tables and
# files, never a live job, a younger one or an output the application kept;
# outputs are readable by output_readers (a second login role) and
# output_group (a second Unix user).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);
use GW;
use JSON::PP;

my $t = GW->new;
my $dbh = $t->dbh;
my $dir = $t->dir;
my $out = "$dir/outputs";
my $have_group = $> == 0 && system('getent group gwreaders >/dev/null 2>&1 || groupadd gwreaders') == 0
    && system('id gwreader >/dev/null 2>&1 || useradd -M -g gwreaders -s /bin/sh gwreader') == 0;
chmod 0755, $dir;
my $pw = 'reader-' . $$;
$dbh->do(q{DO $$ BEGIN CREATE ROLE gw_web_reader LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$});
$dbh->do("ALTER ROLE gw_web_reader PASSWORD '$pw'");
$dbh->do('GRANT USAGE ON SCHEMA analysis TO gw_web_reader');
$dbh->do('CREATE TABLE analysis.not_an_output AS SELECT 1 AS one');
$t->start_daemon(daemon => { output_readers => 'gw_web_reader',
    ($have_group ? (output_group => 'gwreaders') : ()) },
    types => { selftest => { children => 3, keep_completed => '3s', keep_failed => 'forever',
    keep_cancelled => '3s' } });

# One output name, two live jobs: the second fails at once naming the first.
my $a = $t->enqueue('selftest', { output => 'shared', sleep => 3 });
ok($t->wait_for(sub { $t->log_text =~ /took job $a / }, 20), 'job A runs');
my $b = $t->wait_job($t->enqueue('selftest', { output => 'shared' }), 20);
is($b->{status}, 'failed', 'job B, same output, fails');
is($b->{error_message}, "output: job $a is writing analysis.shared; run this one when it has finished, or choose another name",
   '... at once, naming job A');
is($t->wait_job($a, 20)->{status}, 'completed', 'job A completes');
is($t->psql('SELECT one FROM analysis.shared'), 1, '... and its output is whole');

# Readers.
my $r = $t->wait_job($t->enqueue('selftest', { output => 'readable', file => 'r.txt' }), 20);
is($r->{status}, 'completed', 'a job with a table and a file completes');
my $read = sub {
	my ($sql) = @_;
	local $ENV{PGPASSWORD} = $pw;
	my $v = `psql -X -A -t -h localhost -U gw_web_reader -d @{[$t->dbname]} -c "$sql" 2>&1`;
	chomp $v;
	return $v;
};
is($read->('SELECT one FROM analysis.readable'), '1', 'output_readers: the reader role reads the output table');
like($read->('SELECT one FROM analysis.not_an_output'), qr/permission denied/, '... but not a table no job made');
SKIP: {
	skip 'needs root, groupadd and useradd', 4 unless $have_group;
	my $f = "$out/$r->{id}/r.txt";
	my @st = stat($f);
	is(sprintf('%o', $st[2] & 07777), '640', 'output_group: the file is 0640');
	is(scalar(getgrgid($st[5])), 'gwreaders', '... of the group');
	is(sprintf('%o', (stat("$out/$r->{id}"))[2] & 07777), '2750', '... in a 2750 directory');
	like(`su gwreader -c 'cat $f' 2>&1`, qr/^job $r->{id} attempt 1/, 'a member of the group reads it');
}

# Retention: completed and cancelled jobs older than 3 s go, with their
# outputs; failed ones are kept for ever; live ones are never touched; a
# job the application keeps keeps its outputs.
$t->stop_daemon;
my $old = $t->wait_job($t->run_job('selftest', { output => 'expiring', file => 'e.txt' })->{id}, 5);
is($old->{status}, 'completed', 'a job to expire completed');
ok(-e "$out/$old->{id}/e.txt", '... with its file');
my $kept = $t->run_job('selftest', { output => 'kept_by_app' });
$t->psql("SELECT geoworkerd_keep($kept->{id})");
my $failed = $t->run_job('selftest', { fail => 'stays' });
my $queued = $t->enqueue('selftest', {}, run_after => '2100-01-01');
$dbh->do(q{UPDATE background_jobs SET completed_at = now() - interval '1 minute' WHERE id IN (?, ?, ?)},
    undef, $old->{id}, $kept->{id}, $failed->{id});
$dbh->do(q{UPDATE background_jobs SET created_at = now() - interval '1 hour' WHERE id = ?}, undef, $queued);
$t->start_daemon(daemon => { output_readers => 'gw_web_reader' },
    types => { selftest => { children => 2, keep_completed => '3s', keep_failed => 'forever' } });
# Concurrent activity while retention runs.
my @live = map { $t->enqueue('selftest', { sleep => 0.3 }) } 1 .. 10;
ok($t->wait_for(sub { !defined $t->job($old->{id}) }, 20), 'the expired job is deleted');
ok($t->wait_for(sub { !-e "$out/$old->{id}" }, 20), '... its file removed');
is($t->psql(q{SELECT count(*) FROM pg_tables WHERE tablename = 'expiring'}), 0, '... its table dropped');
like($t->log_text, qr/selftest: retention removed \d+ completed jobs older than 3000 milliseconds/, '... and the master logged it');
ok(defined $t->job($failed->{id}), 'a failed job is kept (keep_failed = forever)');
ok(defined $t->job($queued), 'a queued job is never removed, however old');
is($t->psql(q{SELECT count(*) FROM pg_tables WHERE tablename = 'kept_by_app'}), 1, 'an output the application kept stays');
$t->wait_job($_, 30) for @live;
my ($n) = $dbh->selectrow_array(q{SELECT count(*) FROM background_jobs WHERE id = ANY(?) AND status = 'completed'}, undef, \@live);
is($n, 10, 'the jobs that ran meanwhile completed and were not removed early');
is($t->psql(q{SELECT count(*) FROM geoworkerd_trash}), 0, 'geoworkerd_trash is empty');
$t->stop_daemon;

# The job programs lock the output they name (gw_output_name, create_view's
# "name"): a dissolve or a view named like a running job's output fails at
# once, before it writes anything.
$dbh->do(q{CREATE TABLE public.squares AS SELECT g AS id, g % 2 AS k,
	ST_MakeEnvelope(g, 0, g + 1, 1, 32633)::geometry(Polygon, 32633) AS geom
	FROM generate_series(1, 4) g});
$t->start_daemon(types => { selftest => { children => 1 }, dissolve => { children => 1 },
    create_view => { children => 1 } });
my $holder = $t->enqueue('selftest', { output => 'taken', sleep => 4 });
ok($t->wait_for(sub { $t->log_text =~ /took job $holder / }, 20), 'a job holds output "taken"');
my $d = $t->wait_job($t->enqueue('dissolve', { input => 'squares', output => 'taken', overwrite => JSON::PP::true }), 20);
is($d->{status}, 'failed', 'dissolve with the same output fails');
is($d->{error_message}, "output: job $holder is writing analysis.taken; run this one when it has finished, or choose another name",
   '... naming the job that holds it');
my $v = $t->wait_job($t->enqueue('create_view', { input => 'squares', name => 'taken', replace => JSON::PP::true }), 20);
is($v->{status}, 'failed', 'create_view with the same name fails');
like($v->{error_message}, qr/^output: job $holder is writing analysis\.taken;/, '... naming it too');
is($t->wait_job($holder, 20)->{status}, 'completed', 'the holder completes');
is($t->psql('SELECT one FROM analysis.taken'), 1, '... with its own output');
my $d2 = $t->wait_job($t->enqueue('dissolve', { input => 'squares', output => 'taken2' }), 30);
is($d2->{status}, 'completed', 'a dissolve with a free name completes') or diag explain $d2;
$t->stop_daemon;
done_testing;
