# PostgreSQL restarted while jobs run: the master keeps supervising, writes
# what it owes once the database is back, and no job is lost or completed
# twice.
use strict;
use warnings;
use Test::More;
use GW;

plan skip_all => 'needs the pg_virtualenv cluster (PG_CLUSTER_CONF_ROOT)'
    unless $ENV{PG_CLUSTER_CONF_ROOT} && $ENV{PGVERSION};
my $t = GW->new;
my $dbh = $t->dbh;
$dbh->do(q{INSERT INTO background_jobs (job_type, params)
	SELECT 'selftest', '{"sleep": 0.7}' FROM generate_series(1, 30)});
my $master = $t->start_daemon(types => { selftest => { children => 3 } },
    daemon => { db_timeout => '2s' });
ok($t->wait_for(sub { $t->psql(q{SELECT count(*) FROM background_jobs WHERE status = 'completed'}) >= 3 }, 30),
   'jobs are being processed');
$dbh->disconnect;
delete $t->{dbh};
my $out = `timeout 60 pg_ctlcluster $ENV{PGVERSION} regress restart -m fast 2>&1`;
my $restarted = $? == 0;
diag "pg_ctlcluster restart: $out" unless $restarted;
ok($restarted, 'the cluster restarted') or do {
	# Never leave the cluster down for the tests that follow.
	system('pg_ctlcluster', $ENV{PGVERSION}, 'regress', 'start');
	done_testing;
	exit;
};
ok(kill(0, $master), 'the master survived the restart');
ok($t->wait_for(sub { my $n = eval { $t->psql(q{SELECT count(*) FROM background_jobs WHERE status IN ('queued', 'running')}) }; defined $n && $n == 0 }, 90),
   'the queue drains after the restart');
is($t->psql(q{SELECT count(*) FROM background_jobs WHERE status = 'completed'}), 30, 'every job completed');
is($t->psql(q{SELECT count(*) FROM background_jobs WHERE attempts <> 1}), 0,
   'an interrupted run was not counted as an attempt');
my %completed;
my $log = $t->log_text;
$completed{$1}++ while $log =~ /job (\d+): completed in/g;
is(scalar(grep { $_ > 1 } values %completed), 0, 'no job completed twice');
like($t->log_text, qr/database: connected again/, 'the master reconnected');
kill 'USR1', $master;
ok($t->wait_for(sub { -s $t->dir . '/status.json' }, 10), 'status written after the restart');
$t->stop_daemon;
done_testing;
