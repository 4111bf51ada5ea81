# A type whose children keep dying before they claim a job (here: its
# program is missing; then the database refuses it) is throttled with
# exponential back-off, not restarted in a storm; the other types serve on.
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $cd = $t->dir . '/children';
mkdir $cd;
symlink("$GW::BUILDDIR/children/selftest", "$cd/selftest") or die;
symlink("/nonexistent/program", "$cd/clip") or die;
my $ini = $t->config(types => { selftest => {}, clip => { children => 2 } },
    daemon => { child_dir => $cd, max_respawn_delay => '4s' });
$t->start_daemon(ini => $ini);
sleep 6;
my $deaths = () = $t->log_text =~ /clip: child \d+ .* before claiming a job/g;
cmp_ok($deaths, '>=', 3, "the broken type was retried ($deaths times in 6 s)");
cmp_ok($deaths, '<=', 12, 'but with back-off, not in a storm');
like($t->log_text, qr/next start in 4\.0 s/, 'the delay grows to max_respawn_delay');
is($t->wait_job($t->enqueue('selftest', {}), 20)->{status}, 'completed', 'the healthy type still serves');
kill 'USR1', $t->daemon_pid;
ok($t->wait_for(sub { $t->log_text =~ /type clip: .*\(throttled\)/ }, 10), 'status shows the type throttled');
$t->stop_daemon;

# A database that refuses the master: no child is started until the master
# is connected (it could only die), so there is no fork storm at all.
my $t2 = GW->new;
my $ini2 = $t2->config(types => { selftest => {} }, conninfo => 'dbname=no_such_database_here',
    daemon => { max_respawn_delay => '2s' });
$t2->start_daemon(ini => $ini2);
sleep 4;
my $d2 = () = $t2->log_text =~ /selftest: started child/g;
is($d2, 0, 'no child starts while the database refuses the master');
like($t2->log_text, qr/database: cannot connect/, 'the master says why');
like($t2->log_text, qr/retrying in 2 s/, '... and backs off');
$t2->stop_daemon;
done_testing;
