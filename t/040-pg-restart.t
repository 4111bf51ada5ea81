# PostgreSQL restarted while jobs run, once with -m fast and once with
# -m immediate (which loses the asynchronously committed claims): the master
# keeps supervising, writes what it owes once the database is back, no job is
# lost or completed twice, and an outage spends no attempt.
use strict;
use warnings;
use Test::More;
use GW;

plan skip_all => 'needs the pg_virtualenv cluster (PG_CLUSTER_CONF_ROOT)'
    unless $ENV{PG_CLUSTER_CONF_ROOT} && $ENV{PGVERSION};
my $t = GW->new;
my $dbh = $t->dbh;
$dbh->do(q{INSERT INTO background_jobs (job_type, params)
	SELECT 'selftest', '{"sleep": 0.7}' FROM generate_series(1, 40)});
my $master = $t->start_daemon(types => { selftest => { children => 3 } },
    daemon => { db_timeout => '2s' });

sub restart {
	my ($mode) = @_;
	$t->dbh->disconnect;
	delete $t->{dbh};
	# stop, then start (pg_ctlcluster's restart can see the old postmaster
	# still "running" on a loaded machine and give up).
	my $out = `timeout 60 pg_ctlcluster $ENV{PGVERSION} regress stop -m $mode 2>&1`;
	my $ok = 0;
	for my $try (1 .. 5) {
		$out .= `timeout 60 pg_ctlcluster $ENV{PGVERSION} regress start 2>&1`;
		$ok = $? == 0 || `pg_lsclusters -h` =~ /\bonline\b/;
		last if $ok;
		sleep 1;
	}
	unless ($ok) {
		diag "pg_ctlcluster restart -m $mode: $out";
		my ($logf) = `pg_lsclusters -h` =~ /(\S+\.log)\s*$/m;
		diag `tail -20 $logf` if $logf;
	}
	ok($ok, "the cluster restarted (-m $mode)") or do {
		# Never leave the cluster down for the tests that follow.
		system('pg_ctlcluster', $ENV{PGVERSION}, 'regress', 'start');
		done_testing;
		exit;
	};
	ok(kill(0, $master), "the master survived the restart (-m $mode)");
}

my $done = sub { $t->psql(q{SELECT count(*) FROM background_jobs WHERE status = 'completed'}) };
ok($t->wait_for(sub { $done->() >= 3 }, 30), 'jobs are being processed');
restart('fast');
ok($t->wait_for(sub { my $n = eval { $done->() }; defined $n && $n >= 15 }, 90),
   'jobs complete after the first restart');
restart('immediate');
ok($t->wait_for(sub { my $n = eval { $t->psql(q{SELECT count(*) FROM background_jobs WHERE status IN ('queued', 'running')}) }; defined $n && $n == 0 }, 120),
   'the queue drains after the restarts');
is($t->psql(q{SELECT count(*) FROM background_jobs WHERE status = 'completed'}), 40, 'every job completed');
is($t->psql(q{SELECT count(*) FROM background_jobs WHERE attempts - free_attempts <> 1}), 0,
   'an interrupted run was not counted as an attempt');
is($t->psql(q{SELECT count(*) FROM background_jobs WHERE attempts < 1}), 0,
   'attempts never went down');
my %completed;
my $log = $t->log_text;
$completed{$1}++ while $log =~ /job (\d+): completed in/g;
is(scalar(grep { $_ > 1 } values %completed), 0, 'no job completed twice');
is(scalar(keys %completed), 40, 'each job logged its completion once');
like($t->log_text, qr/database: connected again/, 'the master reconnected');
kill 'USR1', $master;
ok($t->wait_for(sub { -s $t->dir . '/status.json' }, 10), 'status written after the restart');
is($t->stop_daemon, 0, 'the master stops cleanly');
done_testing;
