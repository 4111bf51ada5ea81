# Jobs whose heartbeat stopped (their node died) are swept; jobs of this
# node's live children are kept fresh by heartbeats and never swept.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $dbh = $t->dbh;
my $stale = $dbh->selectrow_array(q{INSERT INTO background_jobs
	(job_type, params, status, attempts, worker_host, worker_pid, started_at, heartbeat_at)
	VALUES ('dissolve', '{}', 'running', 1, 'deadnode', 4242, now() - interval '10 minutes',
	        now() - interval '5 minutes') RETURNING id});
my $fresh = $dbh->selectrow_array(q{INSERT INTO background_jobs
	(job_type, params, status, attempts, worker_host, worker_pid, started_at, heartbeat_at)
	VALUES ('dissolve', '{}', 'running', 1, 'livenode', 4243, now(), now() + interval '1 hour') RETURNING id});
my $retry = $dbh->selectrow_array(q{INSERT INTO background_jobs
	(job_type, params, status, attempts, max_attempts, worker_host, worker_pid, started_at, heartbeat_at)
	VALUES ('dissolve', '{}', 'running', 1, 3, 'deadnode', 4244, now() - interval '10 minutes',
	        now() - interval '5 minutes') RETURNING id});

$t->start_daemon(types => { selftest => { children => 1 } },
    daemon => { orphan_timeout => '4s', heartbeat_interval => '500ms' });
my $mine = $t->enqueue('selftest', { sleep => 8 });

my $job = $t->wait_job($stale, 20);
is($job->{status}, 'failed', 'a job with a stale heartbeat is failed');
like($job->{error_message}, qr/^worker lost: no heartbeat from deadnode \(pid 4242\) for 4000 ms/, '... saying whose');
$job = $t->wait_job($retry, 20, qr/queued/);
is($job->{status}, 'queued', 'a stale job with attempts left goes back to the queue');
is($t->psql("SELECT run_after > now() FROM background_jobs WHERE id = $retry"), 't',
   '... with run_after backed off');

my $m = $t->wait_job($mine, 30);
is($m->{status}, 'completed', 'our own long job (8 s > orphan_timeout) is never swept');
is($t->job($fresh)->{status}, 'running', 'a job with a fresh heartbeat is left alone');
$t->stop_daemon;
done_testing;
