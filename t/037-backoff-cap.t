# The back-off is capped by max_retry_delay, and one row with a huge attempts
# count can neither overflow it nor block the sweep for the other rows.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $dbh = $t->dbh;
my @ids;
for my $att (1000, 2) {
	push @ids, $t->enqueue('selftest', {}, max_attempts => 5000);
	$dbh->do(q{UPDATE background_jobs SET status = 'running', attempts = ?, worker_host = 'gone',
		worker_pid = 4242, started_at = now() - interval '1 hour', heartbeat_at = now() - interval '1 hour'
		WHERE id = ?}, undef, $att, $ids[-1]);
}
$t->start_daemon(types => { selftest => { children => 0, retry_delay => '10s', max_retry_delay => '5m' } });
ok($t->wait_for(sub { $t->psql("SELECT count(*) FROM background_jobs WHERE status = 'queued'") == 2 }, 20),
   'the sweep re-queued both rows');
my $big = $t->psql("SELECT round(extract(epoch FROM run_after - now())) FROM background_jobs WHERE id = $ids[0]");
cmp_ok($big, '<=', 300, 'attempts 1000: run_after capped at max_retry_delay (5m)');
cmp_ok($big, '>=', 290, '... and not less');
my $small = $t->psql("SELECT round(extract(epoch FROM run_after - now())) FROM background_jobs WHERE id = $ids[1]");
cmp_ok($small, '<=', 20, 'attempts 2: retry_delay * 2 = 20 s');
cmp_ok($small, '>=', 15, '... roughly');
unlike($t->log_text, qr/out of range/, 'no interval overflow');
$t->stop_daemon;

# The config refuses what it cannot hold.
my $bad = $t->config(types => { selftest => { max_retry_delay => '500d' } }, path => $t->dir . '/bad.ini');
my $out = `$GW::BUILDDIR/src/geoworkerd -t -c $bad 2>&1`;
isnt($? >> 8, 0, 'a max_retry_delay over a year is refused');
like($out, qr/bad value for max_retry_delay/, '... naming the key');
done_testing;
