<?php

declare(strict_types=1);

namespace Geoworkerd\Tests;

use Geoworkerd\Client;

/**
 * A client on the database the PG* environment names (sql/geoworkerd.sql
 * loaded), and a second raw connection that plays the daemon or another
 * user of the queue.
 */
abstract class TestCase extends \PHPUnit\Framework\TestCase
{
    protected Client $client;
    protected \PgSql\Connection $other;

    protected function setUp(): void
    {
        $this->client = Client::connect('');
        pg_query($this->client->connection(), 'SET client_min_messages = notice');
        $this->other = pg_connect('', PGSQL_CONNECT_FORCE_NEW);
    }

    protected function tearDown(): void
    {
        pg_close($this->client->connection());
        pg_close($this->other);
    }

    /** Runs SQL on the other connection; returns the first column of the first row. */
    protected function sql(string $sql, array $params = []): ?string
    {
        $res = pg_query_params($this->other, $sql, $params);
        $this->assertNotFalse($res, pg_last_error($this->other));
        $v = pg_num_rows($res) > 0 && pg_num_fields($res) > 0 ? pg_fetch_result($res, 0, 0) : null;
        return $v === false ? null : $v;
    }

    /** A name unique to this run, for job types, keys and tables. */
    protected static function unique(string $prefix): string
    {
        return $prefix . '_' . getmypid() . '_' . bin2hex(random_bytes(3));
    }
}
