# GW.pm: the test harness.  Each test file makes one GW object: a fresh
# database (PostGIS and the geoworkerd schema loaded) in the throwaway cluster
# that t/run-tests started, a scratch directory, and helpers to write a
# configuration, enqueue jobs, run a job program once, and start and stop the
# real daemon.  Everything is torn down when the object goes away.
#
#   my $t = GW->new;
#   my $id = $t->enqueue('selftest', { sleep => 1 });
#   my $job = $t->run_job('dissolve', { input => 'counties' });
#   $t->start_daemon(types => { selftest => { children => 2 } });
#   my $row = $t->wait_job($id);
package GW;

use strict;
use warnings;
use Carp qw(croak);
use DBI;
use File::Temp qw(tempdir);
use File::Basename qw(basename);
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

our $BUILDDIR = $ENV{GW_BUILDDIR} or die "GW_BUILDDIR is not set: run the tests with make check\n";
our $SRCDIR = $ENV{GW_SRCDIR} // $BUILDDIR;
my $json = JSON::PP->new->canonical;
my $seq = 0;

sub new {
	my ($class, %opt) = @_;
	my $name = lc basename($0);
	$name =~ s/\.t$//;
	$name =~ s/[^a-z0-9]+/_/g;
	my $self = bless {
		dbname => "gw_${name}_$$" . ($seq++ ? "_$seq" : ""),
		dir => tempdir("gwtest-XXXXXX", TMPDIR => 1, CLEANUP => !$ENV{GW_KEEP}),
		daemon => undef,
	}, $class;
	my $admin = DBI->connect('dbi:Pg:dbname=postgres', undef, undef,
	    { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
	$admin->do("DROP DATABASE IF EXISTS \"$self->{dbname}\"");
	$admin->do("CREATE DATABASE \"$self->{dbname}\"");
	$admin->disconnect;
	$self->{created} = 1;
	$self->psql_file("$SRCDIR/sql/geoworkerd.sql") unless $opt{no_schema};
	return $self;
}

sub dbname { $_[0]{dbname} }
sub dir { $_[0]{dir} }
sub conninfo { "dbname=$_[0]{dbname}" }

# A DBI handle on the test database (AutoCommit on, errors raise).
sub dbh {
	my ($self) = @_;
	return $self->{dbh} if $self->{dbh} && $self->{dbh}->ping;
	$self->{dbh} = DBI->connect("dbi:Pg:dbname=$self->{dbname}", undef, undef,
	    { RaiseError => 1, PrintError => 0, AutoCommit => 1, pg_enable_utf8 => 1 });
	$self->{dbh}->do("SET client_min_messages = warning");
	return $self->{dbh};
}

# Runs SQL through psql; returns its unaligned, tuples-only output.
sub psql {
	my ($self, $sql) = @_;
	open(my $fh, '-|', 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
	    '-d', $self->{dbname}, '-c', $sql) or croak "psql: $!";
	local $/;
	my $out = <$fh> // '';
	close($fh) or croak "psql failed on: $sql";
	$out =~ s/\n+\z//;
	return $out;
}

sub psql_file {
	my ($self, $file) = @_;
	system('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $self->{dbname},
	    '-f', $file) == 0 or croak "psql -f $file failed";
}

# Loads a vector file with ogr2ogr into table (geometry column "geom").
sub ogr2ogr {
	my ($self, $file, $table, @opts) = @_;
	my @cmd = ('ogr2ogr', '-f', 'PostgreSQL', "PG:dbname=$self->{dbname}",
	    $file, '-nln', $table, '-lco', 'GEOMETRY_NAME=geom',
	    '-lco', 'FID=fid', '-overwrite', @opts);
	system(@cmd) == 0 or croak "ogr2ogr failed: @cmd";
}

# Writes an INI file and returns its path.  %o: database, daemon, defaults
# (hash refs of key => value) and types (type => { key => value }).
sub config {
	my ($self, %o) = @_;
	my %daemon = (
		node_name => 'testnode',
		pidfile => "$self->{dir}/geoworkerd.pid",
		status_file => "$self->{dir}/status.json",
		child_dir => "$BUILDDIR/children",
		poll_interval => '2s',
		heartbeat_interval => '1s',
		orphan_timeout => '4s',
		user => 'root',
		shutdown_grace => '5s',
		raster_root => "$self->{dir}/rasters",
		output_root => "$self->{dir}/outputs",
		output_schema => 'analysis',
		%{ $o{daemon} // {} },
	);
	mkdir "$self->{dir}/rasters";
	mkdir "$self->{dir}/outputs";
	my %types = %{ $o{types} // { selftest => {} } };
	my $ini = "[database]\nconninfo = " . ($o{conninfo} // $self->conninfo) . "\n\n[daemon]\n";
	$ini .= "$_ = $daemon{$_}\n" for grep { defined $daemon{$_} } sort keys %daemon;
	$ini .= "\n[defaults]\n";
	my %defaults = (nice => 0, %{ $o{defaults} // {} });
	$ini .= "$_ = $defaults{$_}\n" for sort keys %defaults;
	for my $type (sort keys %types) {
		$ini .= "\n[$type]\n";
		$ini .= "$_ = $types{$type}{$_}\n" for sort keys %{ $types{$type} };
	}
	my $path = $o{path} // "$self->{dir}/geoworkerd.ini";
	open(my $fh, '>', $path) or croak "$path: $!";
	print $fh $ini;
	close $fh;
	return $path;
}

# Queues a job; returns its id.  %cols: priority, max_attempts, run_after...
sub enqueue {
	my ($self, $type, $params, %cols) = @_;
	my @names = ('job_type', 'params', sort keys %cols);
	my @values = ($type, ref $params ? $json->encode($params) : $params,
	    map { $cols{$_} } sort keys %cols);
	my $sql = sprintf('INSERT INTO background_jobs (%s) VALUES (%s) RETURNING id',
	    join(', ', @names), join(', ', ('?') x @names));
	return $self->dbh->selectrow_array($sql, undef, @values);
}

# The job row, with params and result decoded.
sub job {
	my ($self, $id) = @_;
	my $row = $self->dbh->selectrow_hashref(
	    'SELECT *, params::text AS params_text, result::text AS result_text
	     FROM background_jobs WHERE id = ?', undef, $id) or return undef;
	# DBD::Pg already decoded the text (pg_enable_utf8): parse characters.
	my $chars = JSON::PP->new;
	$row->{result} = defined $row->{result_text} ? $chars->decode($row->{result_text}) : undef;
	$row->{params} = defined $row->{params_text} ? $chars->decode($row->{params_text}) : undef;
	return $row;
}

# Queues a job and runs its program once, by hand (-j), without the daemon.
# Returns the job row.  %o: config (hash for config()), cols (for enqueue).
sub run_job {
	my ($self, $type, $params, %o) = @_;
	my $ini = $self->config(%{ $o{config} // {} },
	    types => $o{config}{types} // { $type => {} },
	    path => "$self->{dir}/run_job.ini");
	my $id = $self->enqueue($type, $params, %{ $o{cols} // {} });
	my $prog = "$BUILDDIR/children/$type";
	-x $prog or croak "no program $prog";
	my $log = "$self->{dir}/run_job.log";
	my $pid = fork // croak "fork: $!";
	if ($pid == 0) {
		open(STDERR, '>>', $log);
		open(STDOUT, '>&', \*STDERR);
		# GW_JOB_WRAP="valgrind --leak-check=full" runs the job under a tool.
		exec(split(' ', $ENV{GW_JOB_WRAP} // ''), $prog, '-c', $ini, '-j', $id)
		    or POSIX::_exit(127);
	}
	waitpid($pid, 0);
	my $row = $self->job($id);
	$row->{exit_status} = $?;
	return $row;
}

sub run_job_log {
	my ($self) = @_;
	return slurp("$self->{dir}/run_job.log");
}

# Starts geoworkerd -f with a configuration made by config(%o) (or the
# path in $o{ini}), and waits until every type has a ready child.
sub start_daemon {
	my ($self, %o) = @_;
	my $ini = $o{ini} // $self->config(%o);
	$self->{ini} = $ini;
	$self->{log} = "$self->{dir}/geoworkerd.log";
	my $pid = fork // croak "fork: $!";
	if ($pid == 0) {
		open(STDERR, '>>', $self->{log});
		open(STDOUT, '>&', \*STDERR);
		# GW_WRAP="valgrind --leak-check=full" runs the master under a tool.
		exec(split(' ', $ENV{GW_WRAP} // ''), "$BUILDDIR/src/geoworkerd", '-f', '-d',
		    '-c', $ini, @{ $o{args} // [] })
		    or POSIX::_exit(127);
	}
	$self->{daemon} = $pid;
	unless ($o{nowait}) {
		$self->wait_for(sub { $self->log_text =~ /ready: / }, 20)
		    or croak "daemon did not become ready:\n" . $self->log_text;
	}
	return $pid;
}

sub daemon_pid { $_[0]{daemon} }
sub log_text { slurp($_[0]{log}) }

# Sends sig to the daemon and, for TERM/INT/KILL, waits for it to exit.
# Returns the wait status.
sub stop_daemon {
	my ($self, $sig, $timeout) = @_;
	my $pid = $self->{daemon} or return undef;
	$sig //= 'TERM';
	kill $sig, $pid;
	my $status;
	my $deadline = time + ($timeout // 30);
	while (time < $deadline) {
		my $r = waitpid($pid, WNOHANG);
		if ($r == $pid) { $status = $?; last; }
		sleep 0.05;
	}
	unless (defined $status) {
		kill 'KILL', $pid;
		waitpid($pid, 0);
		$status = $?;
	}
	$self->{daemon} = undef;
	return $status;
}

# Polls cond every 50 ms until it is true or timeout seconds pass.
sub wait_for {
	my ($self, $cond, $timeout) = @_;
	my $deadline = time + ($timeout // 30);
	while (time < $deadline) {
		return 1 if $cond->();
		sleep 0.05;
	}
	return $cond->() ? 1 : 0;
}

# Waits until job id is no longer queued or running; returns its row.
sub wait_job {
	my ($self, $id, $timeout, $want) = @_;
	$want //= qr/^(completed|failed|cancelled)$/;
	$self->wait_for(sub { ($self->job($id)->{status} // '') =~ $want }, $timeout // 60);
	return $self->job($id);
}

# Pids of the live children of pid (from /proc), fork servers left out.
sub children_of {
	my ($self, $ppid) = @_;
	my @kids;
	for my $stat (glob '/proc/[0-9]*/stat') {
		open(my $fh, '<', $stat) or next;
		my $line = <$fh> // next;
		close $fh;
		my ($pid, $rest) = $line =~ /^(\d+) \(.*\) (.*)$/s or next;
		my @f = split ' ', $rest;
		next unless $f[1] == $ppid && $f[0] ne 'Z';
		# A type's fork server is not one of its children.
		next if slurp("/proc/$pid/cmdline") =~ /fork server/;
		push @kids, $pid;
	}
	return @kids;
}

# Processes whose command line names this test's configuration.
sub stray_processes {
	my ($self) = @_;
	my @found;
	for my $dir (glob '/proc/[0-9]*') {
		open(my $fh, '<', "$dir/environ") or next;
		local $/;
		my $env = <$fh> // '';
		close $fh;
		push @found, basename($dir) if index($env, "GW_CONNINFO=$self->{ini_conninfo}") >= 0
		    && defined $self->{ini_conninfo};
	}
	return @found;
}

sub slurp {
	my ($path) = @_;
	open(my $fh, '<', $path) or return '';
	local $/;
	my $s = <$fh>;
	close $fh;
	return $s // '';
}

sub DESTROY {
	my ($self) = @_;
	local ($?, $!, $@);
	$self->stop_daemon('TERM', 15) if $self->{daemon};
	if ($self->{dbh}) { $self->{dbh}->disconnect; delete $self->{dbh}; }
	if ($self->{created} && !$ENV{GW_KEEP}) {
		my $admin = DBI->connect('dbi:Pg:dbname=postgres', undef, undef,
		    { RaiseError => 0, PrintError => 0, AutoCommit => 1 });
		if ($admin) {
			$admin->do("DROP DATABASE IF EXISTS \"$self->{dbname}\" WITH (FORCE)");
			$admin->disconnect;
		}
	}
}

1;
