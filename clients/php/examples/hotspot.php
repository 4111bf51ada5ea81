<?php

/*
 * Queues a hot-spot analysis (Getis-Ord Gi*), shows its progress while it
 * runs, and prints where the result is.
 *
 *   php examples/hotspot.php --input public.tracts --field cases \
 *       [--conceptualization contiguity_edges_corners] [--key tracts-cases] \
 *       [--timeout 3600] [--dismiss]
 *
 * The database comes from GEOWORKERD_CONNINFO ("dbname=gis user=web_app"),
 * else from the PG* environment.  --key makes a second run while the first
 * is queued or running wait for the same job instead of starting another.
 * --dismiss removes the job and its output table at the end (a demo that
 * leaves nothing behind).  Exit status: 0 completed, 1 failed or cancelled,
 * 2 timed out, 3 usage or database error.
 */

declare(strict_types=1);

use Geoworkerd\Client;
use Geoworkerd\Exception\GeoworkerdException;
use Geoworkerd\Exception\JobCancelled;
use Geoworkerd\Exception\JobFailed;
use Geoworkerd\Exception\Timeout;
use Geoworkerd\Job;

// With Composer: require 'vendor/autoload.php'.  From the repository:
spl_autoload_register(static function (string $class): void {
    if (str_starts_with($class, 'Geoworkerd\\')) {
        require __DIR__ . '/../src/' . str_replace('\\', '/', substr($class, 11)) . '.php';
    }
});

$opt = getopt('', ['input:', 'field:', 'conceptualization:', 'key:', 'timeout:', 'dismiss', 'help']);
if (isset($opt['help']) || !isset($opt['input'], $opt['field'])) {
    fwrite(STDERR, "usage: php hotspot.php --input schema.table --field column [--conceptualization name]\n"
        . "       [--key key] [--timeout seconds] [--dismiss]\n");
    exit(3);
}

try {
    $client = Client::connect((string) (getenv('GEOWORKERD_CONNINFO') ?: ''));
    $params = ['input' => $opt['input'], 'field' => $opt['field']];
    if (isset($opt['conceptualization'])) {
        $params['conceptualization'] = $opt['conceptualization'];
    }
    $id = $client->enqueue('hotspot_analysis', $params, key: $opt['key'] ?? null);
    printf("job %d queued: hotspot_analysis of %s.%s\n", $id, $opt['input'], $opt['field']);

    $last = '';
    $job = $client->wait($id, (float) ($opt['timeout'] ?? 3600), function (Job $j) use (&$last): void {
        $line = $j->status === Job::QUEUED ? 'waiting for a worker'
            : sprintf('%3.0f%% %s', $j->progress * 100, $j->progressMessage ?? '');
        if ($line !== $last) {
            printf("  %s\n", $line);
            $last = $line;
        }
    });

    $r = $job->result;
    printf("completed in %.1f s: %d features in %s\n", ($r['elapsed_ms'] ?? 0) / 1000,
        $r['feature_count'] ?? 0, $job->output());
    if (isset($r['bins']) && is_array($r['bins'])) {
        foreach ($r['bins'] as $bin => $count) {
            printf("  %-16s %d\n", $bin, $count);
        }
    }
    printf("read it with: SELECT * FROM %s WHERE gi_bin <> 0;\n", $job->output());
    if (isset($opt['dismiss'])) {
        $client->dismiss($id);
        printf("dismissed job %d and dropped %s\n", $id, $job->output());
    }
    exit(0);
} catch (JobFailed $e) {
    fprintf(STDERR, "job %d failed: %s\n", $e->getJob()->id, $e->getMessage());
    exit(1);
} catch (JobCancelled $e) {
    fprintf(STDERR, "job %d was cancelled\n", $e->getJob()->id);
    exit(1);
} catch (Timeout $e) {
    fprintf(STDERR, "%s; it goes on in the background\n", $e->getMessage());
    exit(2);
} catch (GeoworkerdException $e) {
    fprintf(STDERR, "%s\n", $e->getMessage());
    exit(3);
}
