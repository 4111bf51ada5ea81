# The OpenMetrics endpoint: GET /metrics on metrics_listen.  The job
# counters agree with the rows in background_jobs (and with the jobs the
# test ran: it knows how each one ends), the gauges with what runs and what
# is queued, the histograms count every run; a SIGHUP keeps the counters;
# a silent client does not hold the master up; other paths are 404.  With
# promtool (Debian: prometheus) the exposition is checked by it too.
use strict;
use warnings;
use Test::More;
use GW;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);

my $t = GW->new;
my $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Listen => 1, ReuseAddr => 1) or die "no free port: $!";
my $port = $probe->sockport;
close $probe;

# GET path; returns (status line, { header => value }, body).
sub get {
	my ($path, $method, $headers) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
	    Timeout => 5) or return ('no connection: ' . $!, {}, '');
	print $s ($method // 'GET') . " $path HTTP/1.0\r\nHost: x\r\n" . ($headers // '') . "\r\n";
	my $resp = '';
	my $sel = IO::Select->new($s);
	my $deadline = time + 10;
	while (time < $deadline && $sel->can_read($deadline - time)) {
		my $n = sysread($s, my $buf, 65536);
		last unless $n;
		$resp .= $buf;
	}
	close $s;
	my ($head, $body) = split /\r\n\r\n/, $resp, 2;
	my ($status, @h) = split /\r\n/, $head // '';
	my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } @h;
	return ($status // '', \%h, $body // '');
}

# The samples of an exposition: { 'name{labels}' => value }.
sub samples {
	my ($body) = @_;
	my %s;
	for (split /\n/, $body) {
		next if /^#/;
		my ($k, $v) = /^(\S+)\s+(\S+)$/ or next;
		$s{$k} = $v;
	}
	return \%s;
}

sub scrape {
	my ($status, $h, $body) = get('/metrics');
	return samples($body);
}

my $cd = $t->dir . '/children';
mkdir $cd;
symlink("$GW::BUILDDIR/children/selftest", "$cd/$_") or die for qw(selftest parked);
my $ini = $t->config(daemon => { metrics_listen => "127.0.0.1:$port", child_dir => $cd },
    types => { selftest => { children => 2, max_attempts => 1, timeout => '1s' },
	parked => { enabled => 'false' } });
$t->start_daemon(ini => $ini);

my ($status, $h, $body) = get('/metrics');
like($status, qr{^HTTP/1\.[01] 200}, 'GET /metrics: 200');
is($h->{'content-type'}, 'application/openmetrics-text; version=1.0.0; charset=utf-8',
    'OpenMetrics content type');
like($body, qr/\n# EOF\n\z/, 'ends with # EOF');
is(length($body), $h->{'content-length'}, 'Content-Length matches');
like((get('/'))[0], qr/^HTTP\/1\.[01] 404/, 'GET /: 404');
like((get('/metricsx'))[0], qr/^HTTP\/1\.[01] 404/, 'GET /metricsx: 404');
like((get('/metrics', 'POST'))[0], qr/^HTTP\/1\.[01] 405/, 'POST /metrics: 405');

# Every sample belongs to a family announced by # TYPE before it.
my %family;
my $bad = '';
for (split /\n/, $body) {
	if (/^# TYPE (\S+) (\S+)$/) { $family{$1} = $2; next; }
	next if /^#/;
	my ($name) = /^([a-z_]+)/;
	(my $fam = $name) =~ s/_(total|bucket|sum|count)$//;
	$bad .= "$name " unless $family{$fam} || $family{$name};
}
is($bad, '', 'every sample has a # TYPE');
is($family{geoworkerd_jobs_completed}, 'counter', 'jobs_completed is a counter');
is($family{geoworkerd_job_duration_seconds}, 'histogram', 'duration is a histogram');
my $s = samples($body);
is($s->{geoworkerd_up}, 1, 'geoworkerd_up 1');
is($s->{geoworkerd_database_up}, 1, 'database up');
cmp_ok(abs($s->{geoworkerd_start_time_seconds} - time), '<', 60, 'start time is now');
ok($t->wait_for(sub { (scrape()->{'geoworkerd_children{type="selftest",state="idle"}'} // -1) == 2 }, 10),
    'two idle selftest children');

# A silent client holds a slot, not the master.
my $silent = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
my $t0 = time;
like((get('/metrics'))[0], qr/ 200/, 'a scrape beside a silent client');
cmp_ok(time - $t0, '<', 2, '... is served at once');

# Jobs whose ends the test knows: 4 completed, 3 failed, 2 crashed,
# 1 timed out (timeout 1s), 1 cancelled.
my @ids;
push @ids, $t->enqueue('selftest', { sleep => 0.2 }) for 1 .. 4;
push @ids, $t->enqueue('selftest', { fail => 'x' }) for 1 .. 3;
push @ids, $t->enqueue('selftest', { signal => 11 }) for 1 .. 2;
push @ids, $t->enqueue('selftest', { sleep => 5 });
my $cancel = $t->enqueue('selftest', { sleep => 30 });
push @ids, $cancel;
ok($t->wait_for(sub { $t->job($cancel)->{status} eq 'running' }, 30), 'the job to cancel runs');
$t->dbh->do(q{UPDATE background_jobs SET status = 'cancelled' WHERE id = ?}, undef, $cancel);
$t->wait_job($_, 30) for @ids;
# Queued jobs of a type no child serves.
$t->enqueue('parked', {}) for 1 .. 3;

my %rows = map { $_->[0] => $_->[1] } @{ $t->dbh->selectall_arrayref(q{
    SELECT CASE WHEN status <> 'failed' THEN status
		WHEN error_message LIKE 'timed out%' THEN 'timed_out'
		WHEN error_message LIKE 'worker crashed%' THEN 'crashed'
		ELSE 'failed' END, count(*)
    FROM background_jobs WHERE job_type = 'selftest' GROUP BY 1}) };
my %want = (completed => 4, failed => 3, crashed => 2, timed_out => 1, cancelled => 1);
is_deeply(\%rows, \%want, 'the rows ended as the test meant');
my $m;
ok($t->wait_for(sub {
	$m = scrape();
	($m->{'geoworkerd_jobs_cancelled_total{type="selftest"}'} // 0) == 1 &&
	    ($m->{'geoworkerd_children{type="selftest",state="idle"}'} // 0) == 2
}, 20), 'every child reaped');
for my $k (sort keys %want) {
	is($m->{"geoworkerd_jobs_${k}_total{type=\"selftest\"}"}, $rows{$k},
	    "jobs_${k}_total agrees with the rows");
}
is($m->{'geoworkerd_jobs_interrupted_total{type="selftest"}'}, 0, 'none interrupted');
is($m->{'geoworkerd_children{type="selftest",state="busy"}'}, 0, 'none busy');
is($m->{'geoworkerd_job_duration_seconds_count{type="selftest"}'}, 11, 'eleven durations');
is($m->{'geoworkerd_job_duration_seconds_bucket{type="selftest",le="+Inf"}'}, 11, '+Inf bucket = count');
is($m->{'geoworkerd_job_duration_seconds_bucket{type="selftest",le="0.1"}'} + 0 <=
    $m->{'geoworkerd_job_duration_seconds_bucket{type="selftest",le="0.5"}'}, 1, 'buckets are cumulative');
my ($dsum) = $t->dbh->selectrow_array(q{SELECT sum(extract(epoch FROM completed_at - started_at))
    FROM background_jobs WHERE job_type = 'selftest'});
cmp_ok(abs($m->{'geoworkerd_job_duration_seconds_sum{type="selftest"}'} - $dsum), '<', 3,
    "duration sum near the rows' ($dsum s)");
is($m->{'geoworkerd_job_wait_seconds_count{type="selftest"}'}, 11, 'eleven waits');
is($m->{'geoworkerd_jobs_completed_total{type="parked"}'}, 0, 'the parked type has counters too');

# The queue gauges are at most 5 s old.
ok($t->wait_for(sub { $m = scrape(); ($m->{'geoworkerd_queue_depth{type="parked"}'} // 0) == 3 }, 12),
    'queue depth of the parked type: 3');
is($m->{'geoworkerd_queue_depth{type="selftest"}'}, 0, 'nothing queued for selftest');
my ($oldest) = $t->dbh->selectrow_array(q{SELECT extract(epoch FROM now() - min(greatest(created_at, run_after)))
    FROM background_jobs WHERE status = 'queued' AND job_type = 'parked'});
cmp_ok(abs($m->{'geoworkerd_queue_oldest_seconds{type="parked"}'} - $oldest), '<', 6,
    "oldest queued: near the row's age ($oldest s)");

# promtool (Debian: prometheus) reads the Prometheus text format, which a
# scraper gets by asking for text/plain only; the same samples.
SKIP: {
	skip 'promtool not installed (Debian: prometheus)', 3
	    unless system('sh', '-c', 'command -v promtool >/dev/null') == 0;
	my ($st, $hd, $text) = get('/metrics', 'GET', "Accept: text/plain;version=0.0.4\r\n");
	is($hd->{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8', 'text format on Accept: text/plain');
	is_deeply(samples($text), scrape(), '... with the same samples') or diag $text;
	my $file = $t->dir . '/metrics.txt';
	open(my $fh, '>', $file) or die;
	print $fh $text;
	close $fh;
	my $out = `promtool check metrics < $file 2>&1`;
	is($?, 0, 'promtool check metrics') or diag $out;
}
# The OpenMetrics parser of the Python client (python3-prometheus-client)
# is strict about the OpenMetrics grammar (# EOF, counter names, buckets).
# Debian's python3 first: a python3 earlier in PATH may not see its modules.
my ($py) = grep { system('sh', '-c', "$_ -c 'import prometheus_client.openmetrics.parser' 2>/dev/null") == 0 }
    qw(/usr/bin/python3 python3);
SKIP: {
	skip 'python3 prometheus_client not installed (Debian: python3-prometheus-client)', 1 unless $py;
	my $file = $t->dir . '/metrics.om';
	open(my $fh, '>', $file) or die;
	print $fh (get('/metrics'))[2];
	close $fh;
	my $out = `$py -c 'import sys; from prometheus_client.openmetrics.parser import text_string_to_metric_families as p; print(len(list(p(open(sys.argv[1]).read()))), "families")' $file 2>&1`;
	is($?, 0, 'the OpenMetrics parser takes it') or diag $out;
}

# SIGHUP keeps the counters.
my $before = scrape();
kill 'HUP', $t->daemon_pid;
ok($t->wait_for(sub { $t->log_text =~ /reloaded: / }, 10), 'reloaded');
my $after = scrape();
is($after->{"geoworkerd_jobs_${_}_total{type=\"selftest\"}"},
    $before->{"geoworkerd_jobs_${_}_total{type=\"selftest\"}"}, "$_ kept over SIGHUP")
    for sort keys %want;
is($after->{'geoworkerd_job_duration_seconds_count{type="selftest"}'}, 11, 'histograms kept');
is($t->wait_job($t->enqueue('selftest', {}), 30)->{status}, 'completed', 'one more job');
ok($t->wait_for(sub { (scrape()->{'geoworkerd_jobs_completed_total{type="selftest"}'} // 0) == 5 }, 10),
    'completed counts on from 4 to 5');

# Under load: 40 more jobs while the test scrapes all the time; every scrape
# answers, no counter goes down, and at the end they agree with the rows.
my @load = map { $t->enqueue('selftest', $_ % 4 == 0 ? { fail => 'load' } :
    $_ % 10 == 0 ? { signal => 11 } : {}) } 1 .. 40;
my ($scrapes, $bad_scrapes, $down) = (0, 0, 0);
my %last;
my $deadline = time + 90;
while (time < $deadline) {
	my ($st, undef, $b) = get('/metrics');
	$scrapes++;
	$bad_scrapes++ unless $st =~ / 200/ && $b =~ /# EOF\n\z/;
	my $m = samples($b);
	for my $k (grep { /_total\{|_count\{/ } keys %$m) {
		$down++ if defined $last{$k} && $m->{$k} < $last{$k};
		$last{$k} = $m->{$k};
	}
	last unless grep { $t->job($_)->{status} =~ /^(queued|running)$/ } @load;
}
is($bad_scrapes, 0, "$scrapes scrapes during the load, all answered");
is($down, 0, 'no counter went down');
%rows = map { $_->[0] => $_->[1] } @{ $t->dbh->selectall_arrayref(q{
    SELECT CASE WHEN status <> 'failed' THEN status
		WHEN error_message LIKE 'timed out%' THEN 'timed_out'
		WHEN error_message LIKE 'worker crashed%' THEN 'crashed'
		ELSE 'failed' END, count(*)
    FROM background_jobs WHERE job_type = 'selftest' GROUP BY 1}) };
is_deeply(\%rows, { completed => 5 + 28, failed => 3 + 10, crashed => 2 + 2, timed_out => 1, cancelled => 1 },
    'the rows after the load');
ok($t->wait_for(sub {
	$m = scrape();
	($m->{'geoworkerd_job_duration_seconds_count{type="selftest"}'} // 0) == 12 + 40
}, 20), 'every run of the load counted');
is($m->{"geoworkerd_jobs_${_}_total{type=\"selftest\"}"}, $rows{$_}, "after the load: jobs_${_}_total agrees with the rows")
    for sort keys %rows;

# Bounds: a request that never ends its headers is dropped at 2 KiB; four
# silent clients take every slot, and the next scrape waits for their 5 s
# deadline, not longer.
my $big = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
print $big 'GET /metrics HTTP/1.0' . ("\r\nX-Pad: " . ('x' x 100)) x 30;
my $sel = IO::Select->new($big);
# Closed: end of file, or a reset if the rest of the request came late.
my $ready = $sel->can_read(5);
ok($ready && !sysread($big, my $buf, 100), 'an endless request is closed without an answer');
close $big;
undef $silent;
my @silent = map { IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die } 1 .. 4;
sleep 0.3;
$t0 = time;
like((get('/metrics'))[0], qr/ 200/, 'a scrape while 4 silent clients hold every slot');
my $waited = time - $t0;
cmp_ok($waited, '<', 7, sprintf('... answered after %.1f s (their deadline: 5 s)', $waited));
cmp_ok($waited, '>', 3, '... once they were dropped');
close $_ for @silent;

# A reload that changes metrics_listen moves the endpoint (IPv6 here).
SKIP: {
	my $v6 = eval { require IO::Socket::IP; IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1) };
	skip 'no IPv6 loopback', 3 unless $v6;
	my $port6 = $v6->sockport;
	close $v6;
	$t->config(daemon => { metrics_listen => "[::1]:$port6", child_dir => $cd },
	    types => { selftest => { children => 2, max_attempts => 1, timeout => '1s' },
		parked => { enabled => 'false' } });
	kill 'HUP', $t->daemon_pid;
	ok($t->wait_for(sub { $t->log_text =~ /metrics: listening on \[::1\]:$port6/ }, 10), 'listening on [::1]');
	my $c = IO::Socket::IP->new(PeerHost => '::1', PeerPort => $port6) or die "::1: $@";
	print $c "GET /metrics HTTP/1.0\r\n\r\n";
	local $/;
	my $resp = <$c> // '';
	like($resp, qr/geoworkerd_jobs_completed_total\{type="selftest"\} $rows{completed}\n/, 'the counters over IPv6');
	ok(!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 2),
	    'the old address is closed');
}
done_testing;
