# t/data/stats-lib.pl: what the statistics tests (t/2NN-*.t) share: the
# classic data sets loaded into the test database, and reference values
# computed by R spdep at test time (t/data/stats-reference.R).
use strict;
use warnings;
use File::Temp qw(tempfile);

our $SHAPES = '/usr/lib/R/site-library/spData/shapes';
our $NC = '/usr/lib/R/site-library/sf/gpkg/nc.gpkg';

# table => [file, field (as the file spells it)].  ogr2ogr numbers the rows
# fid = 1..n in file order, which is how R numbers them.
our %DATA = (
	columbus => ["$SHAPES/columbus.shp", 'CRIME'],
	ny8 => ["$SHAPES/NY8_utm18.shp", 'Cases'],
	boston => ["$SHAPES/boston_tracts.shp", 'MEDV'],
	nc => [$NC, 'SID74'],
	# Polygon sets of the contiguity tests (t/205): Irish counties, a
	# wheat field trial (a lattice of plots whose shared corners differ in
	# the last digits), Olinda census tracts (UTM 25S).
	eire => ["$SHAPES/eire.shp", 'A'],
	wheat => ["$SHAPES/wheat.shp", 'yield'],
	olinda => ['/usr/lib/R/site-library/sf/shape/olinda1.shp', 'V014'],
);

sub stats_have_data {
	return 0 unless system('Rscript -e "library(spdep)" >/dev/null 2>&1') == 0;
	-r $_->[0] or return 0 for values %DATA;
	return 1;
}

sub stats_load {
	my ($t, @tables) = @_;
	$t->ogr2ogr($DATA{$_}[0], $_, '-nlt', 'PROMOTE_TO_MULTI') for @tables;
}

# Runs the R reference for cases [name, table, concept, k, distance, snap]
# (snap: poly2nb's, its default when undef); returns
# { name => { id => row hash } }.
sub stats_reference {
	my ($t, @cases) = @_;
	my $dir = $t->dir;
	open(my $fh, '>', "$dir/cases.csv") or die "$dir/cases.csv: $!";
	print $fh "case,file,field,concept,k,distance,snap\n";
	for my $c (@cases) {
		my ($name, $table, $concept, $k, $dist, $snap) = @$c;
		printf $fh "%s,%s,%s,%s,%s,%s,%s\n", $name, $DATA{$table}[0],
		    $DATA{$table}[1], $concept, $k // 'NA', $dist // 'NA',
		    $snap // 'NA';
	}
	close $fh;
	my $script = "$GW::SRCDIR/t/data/stats-reference.R";
	system("Rscript $script $dir/cases.csv $dir/ref.csv >$dir/r.log 2>&1") == 0
	    or die "Rscript failed:\n" . GW::slurp("$dir/r.log");
	open($fh, '<', "$dir/ref.csv") or die "$dir/ref.csv: $!";
	my $hdr = <$fh>;
	chomp $hdr;
	my @cols = map { s/"//gr } split /,/, $hdr;
	my %ref;
	while (my $line = <$fh>) {
		chomp $line;
		my @v = map { s/"//gr } split /,/, $line;
		my %row;
		@row{@cols} = map { $_ eq 'NA' || $_ eq 'NaN' ? undef : $_ } @v;
		$ref{$row{case}}{$row{id}} = \%row;
	}
	close $fh;
	return \%ref;
}

# Compares column $col of the job's output (keyed by fid) with reference
# column $rcol where the feature has neighbours; one test per call.
sub stats_compare {
	my ($t, $out, $ref, $col, $rcol, $tol, $name) = @_;
	my $rows = $t->dbh->selectall_hashref(
	    "SELECT * FROM $out", 'fid');
	my ($n, $bad, $worst, $msg) = (0, 0, 0, '');
	for my $id (sort { $a <=> $b } keys %$ref) {
		my $r = $ref->{$id};
		my $got = $rows->{$id};
		if (!$got) { $bad++; $msg ||= "fid $id missing"; next; }
		if ($got->{n_neighbors} != $r->{card}) {
			$bad++;
			$msg ||= "fid $id: $got->{n_neighbors} neighbours, spdep $r->{card}";
			next;
		}
		if ($r->{card} == 0) {
			if (defined $got->{$col}) { $bad++; $msg ||= "fid $id: no neighbour but $col set"; }
			next;
		}
		$n++;
		my $d = abs(($got->{$col} // 1e300) - $r->{$rcol});
		$worst = $d if $d > $worst;
		if ($d > $tol) { $bad++; $msg ||= "fid $id: $col $got->{$col}, spdep $r->{$rcol}"; }
	}
	ok($bad == 0 && $n > 0, "$name: $col equals spdep's $rcol on $n features (max diff "
	    . sprintf('%.2g', $worst) . ")") or diag($msg);
}

1;
