<?php

/*
 * How soon Client::wait() returns after a job ends.  Another connection ends
 * a job (UPDATE ... SET status = 'completed', as a job program's last write)
 * 50 ms after wait() started, and notes clock_timestamp() just before its
 * commit; the latency is from there to wait()'s return (same host, same
 * clock).  A database with sql/geoworkerd.sql loaded, named by the PG*
 * environment or GEOWORKERD_CONNINFO; no daemon needed.
 *
 *   php bench/wait-latency.php [rounds]      (default 200)
 */

declare(strict_types=1);

use Geoworkerd\Client;

spl_autoload_register(static function (string $class): void {
    if (str_starts_with($class, 'Geoworkerd\\')) {
        require __DIR__ . '/../src/' . str_replace('\\', '/', substr($class, 11)) . '.php';
    }
});

$rounds = (int) ($argv[1] ?? 200);
$conninfo = (string) (getenv('GEOWORKERD_CONNINFO') ?: '');
$client = Client::connect($conninfo);
$client->pollInterval = 60;            // measure the notification, not the poll
$ender = pg_connect($conninfo, PGSQL_CONNECT_FORCE_NEW);
$type = 'bench_wait_' . getmypid();
$lat = [];
for ($i = 0; $i < $rounds; $i++) {
    $id = $client->enqueue($type);
    pg_send_query($ender, "SELECT pg_sleep(0.05);
        UPDATE background_jobs SET status = 'completed', completed_at = now() WHERE id = $id
        RETURNING extract(epoch FROM clock_timestamp())");
    $client->wait($id, 10);
    $woke = microtime(true);
    $ended = null;
    while (($res = pg_get_result($ender)) !== false) {
        if (pg_num_fields($res) === 1 && pg_num_rows($res) === 1 && pg_field_name($res, 0) === 'extract') {
            $ended = (float) pg_fetch_result($res, 0, 0);
        }
    }
    $lat[] = ($woke - $ended) * 1000;
}
pg_query($ender, "DELETE FROM background_jobs WHERE job_type = '$type'");
sort($lat);
$q = static fn (float $p): float => $lat[(int) min(count($lat) - 1, floor($p * count($lat)))];
printf("wait() woke %.2f ms (median) after the job's last UPDATE; min %.2f, p95 %.2f, max %.2f ms (%d rounds)\n",
    $q(0.5), $lat[0], $q(0.95), end($lat), count($lat));
