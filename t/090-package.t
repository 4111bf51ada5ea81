# The Debian package named by GW_PACKAGE_DEB (tools/package builds one):
# what it ships and where, read from the .deb itself (dpkg-deb), nothing
# installed.  Skipped without GW_PACKAGE_DEB.  tools/test-all installs the
# package and runs a job through it (as root in CI, or GW_TEST_PACKAGE=1).
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

my $deb = $ENV{GW_PACKAGE_DEB};
plan skip_all => 'GW_PACKAGE_DEB is not set (tools/package builds the .deb)' unless $deb;
ok(-f $deb, "$deb exists") or BAIL_OUT("no $deb");

sub run { my $out = `@_`; return $out }
sub slurp { open(my $fh, '<', $_[0]) or return ''; local $/; my $s = <$fh>; close $fh; return $s }

is(run("dpkg-deb -f '$deb' Package"), "geoworkerd\n", 'package name');
my $depends = run("dpkg-deb -f '$deb' Depends");
like($depends, qr/libpq5/, 'depends on libpq (shlibs)');
like($depends, qr/libgdal/, 'depends on GDAL (shlibs)');

my %files = map { s{^\./}{/}r => 1 } grep { length }
    map { (split ' ', $_, 6)[5] =~ s/ -> .*//r } split /\n/, run("dpkg-deb -c '$deb'");
for my $f (qw(/usr/sbin/geoworkerd /usr/sbin/geoworkerctl
    /usr/libexec/geoworkerd/dissolve /usr/libexec/geoworkerd/hotspot_analysis
    /usr/libexec/geoworkerd/hotspot_timeseries /usr/libexec/geoworkerd/raster_clip
    /etc/geoworkerd.ini /usr/share/geoworkerd/sql/geoworkerd.sql
    /lib/systemd/system/geoworkerd.service
    /usr/lib/sysusers.d/geoworkerd.conf /usr/lib/tmpfiles.d/geoworkerd.conf
    /usr/share/man/man8/geoworkerd.8.gz /usr/share/man/man8/geoworkerctl.8.gz
    /usr/share/man/man5/geoworkerd.ini.5.gz
    /usr/share/doc/geoworkerd/README.Debian
    /usr/share/doc/geoworkerd/examples/geoworkerd.ini /usr/share/doc/geoworkerd/copyright)) {
	ok($files{$f}, "ships $f");
}
# The job-type pages and the contract (dh_compress gzips the larger ones).
for my $page (qw(spec hotspot_analysis outlier_analysis nearest_analysis dissolve clip
    erase_analysis raster_clip create_view hotspot_timeseries)) {
	my $f = "/usr/share/doc/geoworkerd/$page.md";
	ok($files{$f} || $files{"$f.gz"}, "ships $f");
}
ok(!grep(m{^/usr/local}, keys %files), 'nothing under /usr/local');
ok(!$files{'/usr/libexec/geoworkerd/selftest'}, 'the test-only job program is not shipped');

my $dir = tempdir('gwdeb-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system('dpkg-deb', '-x', $deb, "$dir/root") == 0 or BAIL_OUT('dpkg-deb -x failed');
system('dpkg-deb', '-e', $deb, "$dir/control") == 0 or BAIL_OUT('dpkg-deb -e failed');

like(slurp("$dir/control/conffiles"), qr{^/etc/geoworkerd\.ini$}m, '/etc/geoworkerd.ini is a conffile');
my $postinst = slurp("$dir/control/postinst");
like($postinst, qr/systemd-sysusers/, 'postinst makes the user (sysusers.d)');
like($postinst, qr/systemd-tmpfiles/, 'postinst makes the directories (tmpfiles.d)');
unlike($postinst, qr/deb-systemd-invoke (start|restart)/, 'the unit is not started');
like($postinst, qr/if deb-systemd-helper debian-installed[^\n]*\n(?:(?!\nfi\n).)*deb-systemd-helper enable/s,
    'the unit is enabled again only if it was before (an upgrade), never on a first install');
unlike($postinst =~ s/if deb-systemd-helper debian-installed.*?\n\tfi\n//sr, qr/deb-systemd-helper enable/,
    '... nowhere else');
like(slurp("$dir/root/usr/lib/sysusers.d/geoworkerd.conf"), qr/^u geoworker\b/m, 'sysusers: the geoworker user');
like(slurp("$dir/root/usr/lib/tmpfiles.d/geoworkerd.conf"), qr{^d /var/log/geoworkerd }m, 'tmpfiles: the log directory');

my $unit = slurp("$dir/root/lib/systemd/system/geoworkerd.service");
like($unit, qr{^ExecStart=/usr/sbin/geoworkerd -f -c /etc/geoworkerd\.ini$}m, 'unit: the installed paths');
like($unit, qr/^User=geoworker$/m, 'unit: runs as geoworker');

# Docs that match the install: the configured paths, never /usr/local.
for my $page (qw(man8/geoworkerd.8 man8/geoworkerctl.8 man5/geoworkerd.ini.5)) {
	my $text = run("zcat '$dir/root/usr/share/man/$page.gz'");
	unlike($text, qr{/usr/local|\@\w+\@}, "$page: no /usr/local, nothing left unsubstituted");
	like($text, qr{/etc/geoworkerd\.ini}, "$page: names /etc/geoworkerd.ini");
}
like(run("zcat '$dir/root/usr/share/man/man8/geoworkerd.8.gz'"), qr{/usr/libexec/geoworkerd/},
    'geoworkerd(8): the job programs in /usr/libexec/geoworkerd');
like(slurp("$dir/root/etc/geoworkerd.ini"), qr{^;child_dir = /usr/libexec/geoworkerd$}m,
    'geoworkerd.ini: the installed child_dir');

# The programs run and know their configuration's place.
like(run("'$dir/root/usr/sbin/geoworkerctl' --help 2>&1"), qr/usage: geoworkerctl/, 'geoworkerctl runs');
ok(index(slurp("$dir/root/usr/sbin/geoworkerctl"), "/etc/geoworkerd.ini\0") >= 0,
    'geoworkerctl reads /etc/geoworkerd.ini by default');
done_testing;
