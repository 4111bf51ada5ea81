# The child runtime, installed, is enough to write a job program outside
# this tree: install gwworker.h, libgwworker.a and geoworkerd-worker.pc into
# a temporary prefix, build a small program with nothing but
# `cc $(pkg-config --cflags --libs geoworkerd-worker)`, put it in a
# child_dir and run a job through the daemon.
use strict;
use warnings;
use Test::More;
use File::Find;
use GW;

my $t = GW->new;
my $prefix = $t->dir . '/prefix';
{
	# A make of its own, not the jobserver of the make check that runs us.
	local @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL)};
	my $out = `make -s -C '$GW::BUILDDIR' install-libLIBRARIES install-pkgincludeHEADERS install-pkgconfig prefix='$prefix' 2>&1`;
	is($?, 0, 'the runtime installs into a prefix') or diag $out;
}
my @pc;
find(sub { push @pc, $File::Find::name if $_ eq 'geoworkerd-worker.pc' }, $prefix);
is(scalar @pc, 1, 'one geoworkerd-worker.pc') or BAIL_OUT('no .pc installed');
(my $pcdir = $pc[0]) =~ s{/[^/]+$}{};
ok(-f "$prefix/include/geoworkerd/gwworker.h", 'gwworker.h in $includedir/geoworkerd');
ok(-f "$pcdir/../libgwworker.a", 'libgwworker.a in $libdir');

local $ENV{PKG_CONFIG_PATH} = $pcdir;
chomp(my $flags = `pkg-config --cflags --libs geoworkerd-worker 2>&1`);
is($?, 0, 'pkg-config knows geoworkerd-worker') or diag $flags;
like($flags, qr{-I\Q$prefix\E/include/geoworkerd}, '... with the installed header');
like($flags, qr{-L\Q$prefix\E/lib\b.*-lgwworker}, '... and library');
unlike($flags, qr{\Q$GW::BUILDDIR\E|\Q$GW::SRCDIR\E}, '... and nothing of the source or build tree');

# The example of gwworker(3), as a user would write it.
my $cd = $t->dir . '/children';
mkdir $cd;
my $src = $t->dir . '/twice.c';
open(my $fh, '>', $src) or die "$src: $!";
print $fh <<'C';
#include <gwworker.h>

static int
run(struct gw_job *job, json_t **result)
{
	long long n;

	if (gw_param_int(job, "n", 1, 0, 1000, &n) == -1)
		return -1;
	gw_progress(job, 0.5, "halfway");
	*result = json_pack("{s:I}", "twice", n * 2);
	return 0;
}

int
main(int argc, char *argv[])
{
	return gw_worker_main(argc, argv, "twice", run);
}
C
close $fh;
my $cc = $ENV{CC} // 'cc';
my $out = `cd '${\$t->dir}' && $cc -o '$cd/twice' twice.c $flags 2>&1`;
is($?, 0, 'a job program builds against the installed files') or diag $out;

$t->start_daemon(daemon => { child_dir => $cd }, types => { twice => { children => 1 } });
my $id = $t->enqueue('twice', { n => 21 });
my $j = $t->wait_job($id, 30);
is($j->{status}, 'completed', 'the daemon ran its job') or diag $j->{error_message};
is($j->{result}{twice}, 42, '... with its result');
my $bad = $t->enqueue('twice', { n => 'many' });
$j = $t->wait_job($bad, 30);
is($j->{status}, 'failed', 'a bad parameter fails the job');
like($j->{error_message} // '', qr/\bn\b/, '... with a message naming it');
$t->stop_daemon;
done_testing;
