# hotspot_timeseries: a hand-built cube where each of the 17 Emerging Hot
# Spot categories is planted at one location, and must come out exactly
# there.
#
# The cube: 10 monthly steps, a 36 x 36 grid of 100 m cells (UTM 33N), one
# point per bin at the cell centre carrying the bin's value in "amount"
# (summed by field).  Background bins are 100.  With neighborhood_distance
# 50 m (the cell alone) and neighborhood_time_steps 0, the Gi* z-score of a
# bin reduces to (x - mean) / S, so a bin of 150 is a significant hot spot
# and one of 50 a significant cold spot, about 10 standard deviations out,
# while the background stays near z = 0: the planted significance pattern
# is what the classification sees.  Rising or falling values make the
# Mann-Kendall trend of the z-scores significant (S = +-45, z = +-4.02).
use strict;
use warnings;
use Test::More;
use GW;

my $t = GW->new;
my $dbh = $t->dbh;

my ($B, $H, $C) = (100, 150, 50);
my @up = map { 127.5 + 2.5 * $_ } 0 .. 9;	# hot, rising
my @coldown = map { 72.5 - 2.5 * $_ } 0 .. 9;	# cold, falling (stronger)
my %plant = (
	no_pattern		=> [ $B, $B, $B, $H, $B, $B, $B, $B, $B, $B ],
	new_hot_spot		=> [ ($B) x 9, $H ],
	consecutive_hot_spot	=> [ ($B) x 7, ($H) x 3 ],
	intensifying_hot_spot	=> [ @up ],
	persistent_hot_spot	=> [ ($H) x 10 ],
	diminishing_hot_spot	=> [ reverse @up ],
	sporadic_hot_spot	=> [ $B, $H, $B, $B, $H, $B, $B, $B, $H, $H ],
	oscillating_hot_spot	=> [ $B, $C, $B, $B, $B, $B, $B, $B, $B, $H ],
	historical_hot_spot	=> [ ($H) x 9, $B ],
	new_cold_spot		=> [ ($B) x 9, $C ],
	consecutive_cold_spot	=> [ ($B) x 6, ($C) x 4 ],
	intensifying_cold_spot	=> [ @coldown ],
	persistent_cold_spot	=> [ ($C) x 10 ],
	diminishing_cold_spot	=> [ reverse @coldown ],
	sporadic_cold_spot	=> [ $C, $B, $C, $B, $C, $B, $B, $C, $B, $C ],
	oscillating_cold_spot	=> [ $B, $H, $B, $B, $B, $B, $B, $B, $B, $C ],
	historical_cold_spot	=> [ ($C) x 9, $B ],
);
is(scalar keys %plant, 17, '17 categories planted');

# Planted locations on a diagonal-ish pattern, two cells apart.
my @names = sort keys %plant;
my %where;
for my $i (0 .. $#names) {
	$where{"" . (2 + 2 * ($i % 6)) . "," . (2 + 4 * int($i / 6))} = $names[$i];
}

$dbh->do('CREATE TABLE events (id serial PRIMARY KEY, ' .
    'geom geometry(Point, 32633), happened timestamptz, amount numeric)');
my $sth = $dbh->prepare("INSERT INTO events (geom, happened, amount) VALUES " .
    "(ST_SetSRID(ST_MakePoint(?, ?), 32633), " .
    "timestamptz '2020-01-15 00:00:00+00' + ? * interval '1 month', ?)");
$dbh->begin_work;
for my $c (0 .. 35) {
	for my $r (0 .. 35) {
		my $name = $where{"$c,$r"};
		for my $s (0 .. 9) {
			my $v = $name ? $plant{$name}[$s] : $B;
			$sth->execute(500050 + 100 * $c, 4000050 + 100 * $r, $s, $v);
		}
	}
}
$dbh->commit;

my $job = $t->run_job('hotspot_timeseries', {
	input => 'events', time_field => 'happened', field => 'amount',
	cell_size => 100, time_step => '1 month',
	neighborhood_distance => 50, neighborhood_time_steps => 0,
	output => 'ehsa',
});
is($job->{status}, 'completed', 'job completed')
    or diag($job->{error_message} // '', $t->run_job_log);
my $r = $job->{result};
is($r->{time_steps}, 10, '10 monthly steps');
is($r->{locations}, 36 * 36, '1296 locations');
is($r->{bins}, 36 * 36 * 10, 'bins');
is($r->{columns}, 36, '36 columns');
is($r->{rows}, 36, '36 rows');
is($r->{feature_count}, 36 * 36, 'feature_count');
is($r->{output}, 'analysis.ehsa', 'output name');
is($r->{bins_output}, 'analysis.ehsa_bins', 'bins output name');

# Each planted location: the category of the cell that holds its points.
for my $key (sort keys %where) {
	my ($c, $rw) = split /,/, $key;
	my ($cat, $hot, $cold) = $dbh->selectrow_array(
	    'SELECT category, hot_bins, cold_bins FROM analysis.ehsa ' .
	    'WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(?, ?), 32633))',
	    undef, 500050 + 100 * $c + 1, 4000050 + 100 * $rw + 1);
	is($cat, $where{$key}, "cell $key planted $where{$key}");
	my @v = @{ $plant{$where{$key}} };
	is($hot, scalar(grep { $_ > $B } @v), "$where{$key}: hot bins");
	is($cold, scalar(grep { $_ < $B } @v), "$where{$key}: cold bins");
}

# Everything else is background: no pattern.
my $cats = $r->{categories};
is($cats->{no_pattern}, 36 * 36 - 16, 'every background cell has no pattern');
for my $name (grep { $_ ne 'no_pattern' } @names) {
	is($cats->{$name}, 1, "exactly one $name in the result");
}
is($dbh->selectrow_array("SELECT count(*) FROM analysis.ehsa
    WHERE category <> 'no_pattern'"), 16, '16 patterned locations in the table');

# The cells are the 100 m squares of the grid, in the input's SRID.
my ($srid, $minarea, $maxarea) = $dbh->selectrow_array(
    'SELECT min(ST_SRID(geom)), min(ST_Area(geom)), max(ST_Area(geom)) FROM analysis.ehsa');
is($srid, 32633, 'cells keep the input SRID');
ok(abs($minarea - 10000) < 1e-6 && abs($maxarea - 10000) < 1e-6, 'cells are 100 m squares');
is($dbh->selectrow_array("SELECT count(*) FILTER (WHERE abs(value - amount) < 1e-9) FROM
    analysis.ehsa_bins b JOIN analysis.ehsa l USING (location_id)
    JOIN events e ON ST_XMin(l.geom) <= ST_X(e.geom) AND ST_X(e.geom) < ST_XMax(l.geom)
    AND ST_YMin(l.geom) <= ST_Y(e.geom) AND ST_Y(e.geom) < ST_YMax(l.geom)
    AND e.happened > b.time_start AND e.happened <= b.time_end"),
    36 * 36 * 10, 'each bin holds the amount of its one point (cells half-open)');

done_testing();
