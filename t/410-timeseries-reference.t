# hotspot_timeseries against references it did not compute:
#  - bin values: each point assigned to its cell by PostGIS (half-open cell
#    squares of the output) and to its step by PostgreSQL interval
#    arithmetic written here (the last step ends at the last timestamp);
#  - Gi* per bin: R spdep localG with include.self() on the space-time
#    neighbour list built in R (cells within neighborhood_distance, same
#    step and the previous neighborhood_time_steps ones), and a direct
#    computation in Perl from the formula;
#  - gi_bin: R's p.adjust(method = "BH") at 0.10 / 0.05 / 0.01;
#  - trend z and p per location, and the count trend of the cube: R's
#    cor.test(x, seq_along(x), method = "kendall", exact = FALSE).
use strict;
use warnings;
use Test::More;
use POSIX qw(floor);
use File::Temp qw(tempdir);
use GW;

my $t = GW->new;
my $dbh = $t->dbh;

# About 4000 points over 1.2 x 1.0 km and 14 weeks: a uniform background
# and a cluster that grows over time, from a fixed linear congruential
# sequence so the data are the same on every run.
my $seed = 42;
sub rnd { $seed = ($seed * 1103515245 + 12345) % 2147483648; return $seed / 2147483648; }
$dbh->do('CREATE TABLE calls (gid integer PRIMARY KEY, ' .
    'location geometry(Point, 32631), at timestamp)');
my $sth = $dbh->prepare('INSERT INTO calls VALUES (?, ' .
    'ST_SetSRID(ST_MakePoint(?, ?), 32631), ' .
    "timestamp '2023-03-01 08:00' + ? * interval '1 second')");
$dbh->begin_work;
my $gid = 0;
for (1 .. 2500) {
	$sth->execute(++$gid, 400000 + 1200 * rnd(), 5000000 + 1000 * rnd(),
	    int(98 * 86400 * rnd()));
}
for (1 .. 1500) {
	my $secs = int(98 * 86400 * sqrt(rnd()));	# more and more often
	$sth->execute(++$gid, 400300 + 250 * rnd(), 5000400 + 250 * rnd(), $secs);
}
$dbh->commit;

my $job = $t->run_job('hotspot_timeseries', {
	input => 'calls', time_field => 'at', cell_size => 100,
	time_step => '1 week', neighborhood_distance => 150,
	neighborhood_time_steps => 1, output => 'calls_ehsa',
});
is($job->{status}, 'completed', 'job completed')
    or diag($job->{error_message} // '', $t->run_job_log);
my $r = $job->{result};
is($r->{point_count}, 4000, 'every point used');
# Steps from the last timestamp back until the first point is covered.
my $want_steps = $dbh->selectrow_array(q{SELECT min(k) + 1 FROM generate_series(0, 1000) k,
    (SELECT min(at) AS tmin, max(at) AS tmax FROM calls) m
    WHERE m.tmin > m.tmax - (k + 1) * interval '1 week'});
is($r->{time_steps}, $want_steps, "$want_steps weekly steps back from the last timestamp");

# Locations and their cell centres, bins.
my $locs = $dbh->selectall_hashref('SELECT location_id, ST_X(ST_Centroid(geom)) AS x,
    ST_Y(ST_Centroid(geom)) AS y, trend_zscore, trend_pvalue, n_neighbors,
    count_trend_zscore, count_trend_pvalue
    FROM analysis.calls_ehsa', 'location_id');
my $bins = $dbh->selectall_arrayref('SELECT location_id, time_step, value,
    gi_zscore, gi_pvalue, gi_bin FROM analysis.calls_ehsa_bins
    ORDER BY location_id, time_step', { Slice => {} });
my $L = scalar keys %$locs;
my $T = $r->{time_steps};
is($r->{locations}, $L, 'locations in the result and the table');
is(scalar @$bins, $L * $T, 'a bin per location and step');

# Reference bin values: cell by half-open containment, step by interval
# arithmetic in SQL (k = 0 is the last week, ending at the last timestamp).
my $ref = $dbh->selectall_hashref(q{
    WITH last AS (SELECT max(at) AS tmax FROM calls),
    p AS (SELECT c.gid, l.location_id,
        (SELECT min(k) FROM generate_series(0, 1000) k, last
         WHERE c.at > last.tmax - (k + 1) * interval '1 week') AS k
        FROM calls c JOIN analysis.calls_ehsa l
        ON ST_XMin(l.geom) <= ST_X(c.location) AND ST_X(c.location) < ST_XMax(l.geom)
        AND ST_YMin(l.geom) <= ST_Y(c.location) AND ST_Y(c.location) < ST_YMax(l.geom))
    SELECT location_id || '/' || k AS key, count(*) AS n FROM p
    GROUP BY location_id, k}, 'key');
my $bad = 0;
my $sum = 0;
for my $b (@$bins) {
	my $k = $T - $b->{time_step};
	my $want = $ref->{"$b->{location_id}/$k"} ? $ref->{"$b->{location_id}/$k"}{n} : 0;
	$bad++ if $b->{value} != $want;
	$sum += $b->{value};
}
is($bad, 0, 'every bin value equals the SQL count of its points');
is($sum, 4000, 'the bins hold every point once');

# Gi* from the formula, in Perl: binary weights, self included.
my @ids = sort { $a <=> $b } keys %$locs;
my (%val, @x);
$val{"$_->{location_id}/$_->{time_step}"} = $_->{value} for @$bins;
my $n = $L * $T;
my $mean = $sum / $n;
my $ss = 0;
$ss += ($_->{value} - $mean) ** 2 for @$bins;
my $S = sqrt($ss / $n);
my %nbr;
for my $i (@ids) {
	$nbr{$i} = [ grep { sqrt(($locs->{$_}{x} - $locs->{$i}{x}) ** 2 +
	    ($locs->{$_}{y} - $locs->{$i}{y}) ** 2) <= 150 + 1e-6 } @ids ];
}
my ($worst, $worstp, $nnbad) = (0, 0, 0);
for my $b (@$bins) {
	my ($i, $ts) = ($b->{location_id}, $b->{time_step});
	my ($W, $sx) = (0, 0);
	for my $j (@{ $nbr{$i} }) {
		for my $s ($ts - 1 .. $ts) {
			next if $s < 1;
			$W++;
			$sx += $val{"$j/$s"};
		}
	}
	my $z = ($sx - $mean * $W) / ($S * sqrt(($n * $W - $W * $W) / ($n - 1)));
	my $d = abs($z - $b->{gi_zscore});
	$worst = $d if $d > $worst;
	my $p = POSIX::erfc(abs($z) / sqrt(2));
	$worstp = abs($p - $b->{gi_pvalue}) if abs($p - $b->{gi_pvalue}) > $worstp;
}
for my $i (@ids) { $nnbad++ if $locs->{$i}{n_neighbors} != @{ $nbr{$i} } - 1; }
cmp_ok($worst, '<', 1e-9, "Gi* equals the direct computation (max diff $worst)");
cmp_ok($worstp, '<', 1e-12, "Gi* p-values two-sided (max diff $worstp)");
is($nnbad, 0, 'n_neighbors counts the other locations within the distance');

# R: spdep localG on the space-time neighbour list, p.adjust BH, and
# cor.test Kendall for every location's z-series and the count totals.
my $dir = tempdir(CLEANUP => 1);
open(my $fh, '>', "$dir/bins.csv") or die;
print $fh "loc,step,value,x,y,z,p\n";
for my $b (@$bins) {
	my $l = $locs->{$b->{location_id}};
	printf $fh "%d,%d,%.17g,%.17g,%.17g,%.17g,%.17g\n", $b->{location_id},
	    $b->{time_step}, $b->{value}, $l->{x}, $l->{y}, $b->{gi_zscore},
	    $b->{gi_pvalue};
}
close $fh;
open($fh, '>', "$dir/ref.R") or die;
print $fh <<'EOR';
suppressMessages(library(spdep))
d <- read.csv(file.path(dir, "bins.csv"))
n <- nrow(d)
nb <- vector("list", n)
for (i in seq_len(n)) {
	near <- sqrt((d$x - d$x[i])^2 + (d$y - d$y[i])^2) <= 150 + 1e-6
	w <- which(near & d$step <= d$step[i] & d$step >= d$step[i] - 1)
	w <- w[w != i]
	nb[[i]] <- if (length(w)) as.integer(w) else 0L
}
class(nb) <- "nb"
attr(nb, "region.id") <- as.character(seq_len(n))
attr(nb, "sym") <- FALSE
lw <- nb2listw(include.self(nb), style = "B", zero.policy = TRUE)
g <- as.numeric(localG(d$value, lw, zero.policy = TRUE))
adj <- p.adjust(d$p, method = "BH")
bin <- sign(d$z) * ifelse(adj <= 0.01, 3, ifelse(adj <= 0.05, 2, ifelse(adj <= 0.10, 1, 0)))
write.csv(data.frame(loc = d$loc, step = d$step, g = sprintf("%.17g", g), bin = bin),
    file.path(dir, "gi.csv"), row.names = FALSE)
mk <- do.call(rbind, lapply(split(d, d$loc), function(s) {
	s <- s[order(s$step), ]
	r <- cor.test(s$z, seq_along(s$z), method = "kendall", exact = FALSE)
	# Counts tie a lot: a constant series has no test (z 0, p 1 here).
	v <- if (length(unique(s$value)) > 1)
		cor.test(s$value, seq_along(s$value), method = "kendall", exact = FALSE)
	    else list(statistic = 0, p.value = 1)
	data.frame(loc = s$loc[1], z = sprintf("%.17g", r$statistic),
	    p = sprintf("%.17g", r$p.value), vz = sprintf("%.17g", v$statistic),
	    vp = sprintf("%.17g", v$p.value))
}))
write.csv(mk, file.path(dir, "mk.csv"), row.names = FALSE)
tot <- tapply(d$value, d$step, sum)
r <- cor.test(as.numeric(tot), seq_along(tot), method = "kendall", exact = FALSE)
writeLines(sprintf("%.17g %.17g", r$statistic, r$p.value), file.path(dir, "total.txt"))
EOR
close $fh;
system('Rscript', '-e', "dir <- '$dir'; source('$dir/ref.R')") == 0
    or BAIL_OUT('Rscript failed');

my %bybin = map { ("$_->{location_id}/$_->{time_step}" => $_) } @$bins;
open($fh, '<', "$dir/gi.csv") or die;
<$fh>;
my ($gworst, $binbad, $rows) = (0, 0, 0);
while (<$fh>) {
	chomp;
	s/"//g;
	my ($loc, $step, $g, $bin) = split /,/;
	my $b = $bybin{"$loc/$step"};
	$rows++;
	$gworst = abs($g - $b->{gi_zscore}) if abs($g - $b->{gi_zscore}) > $gworst;
	$binbad++ if $bin != $b->{gi_bin};
}
close $fh;
is($rows, $n, 'R computed every bin');
cmp_ok($gworst, '<', 1e-9, "Gi* equals spdep localG (max diff $gworst)");
is($binbad, 0, 'gi_bin equals the sign and the BH-adjusted level from p.adjust');
ok(scalar(grep { $_->{gi_bin} > 0 } @$bins) > 0, 'the growing cluster makes hot bins');

open($fh, '<', "$dir/mk.csv") or die;
<$fh>;
my ($mz, $mp, $mrows, $vz, $vp) = (0, 0, 0, 0, 0);
while (<$fh>) {
	chomp;
	s/"//g;
	my ($loc, $z, $p, $cz, $cp) = split /,/;
	$mrows++;
	$vz = abs($cz - $locs->{$loc}{count_trend_zscore}) if abs($cz - $locs->{$loc}{count_trend_zscore}) > $vz;
	$vp = abs($cp - $locs->{$loc}{count_trend_pvalue}) if abs($cp - $locs->{$loc}{count_trend_pvalue}) > $vp;
	$mz = abs($z - $locs->{$loc}{trend_zscore}) if abs($z - $locs->{$loc}{trend_zscore}) > $mz;
	$mp = abs($p - $locs->{$loc}{trend_pvalue}) if abs($p - $locs->{$loc}{trend_pvalue}) > $mp;
}
close $fh;
is($mrows, $L, 'R tested every location');
cmp_ok($mz, '<', 1e-9, "trend z equals cor.test Kendall (max diff $mz)");
cmp_ok($mp, '<', 1e-9, "trend p equals cor.test Kendall (max diff $mp)");
cmp_ok($vz, '<', 1e-9, "count trend z per location equals cor.test Kendall, ties corrected (max diff $vz)");
cmp_ok($vp, '<', 1e-9, "count trend p per location equals cor.test Kendall (max diff $vp)");

my ($tz, $tp) = split ' ', GW::slurp("$dir/total.txt");
ok(abs($r->{count_trend}{zscore} - $tz) < 1e-9, "count trend z $r->{count_trend}{zscore} = R $tz");
ok(abs($r->{count_trend}{pvalue} - $tp) < 1e-9, "count trend p $r->{count_trend}{pvalue} = R $tp");
is($r->{count_trend}{direction}, 'increasing', 'the counts increase over time');

done_testing();
