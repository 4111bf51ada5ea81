<?php

declare(strict_types=1);

namespace Geoworkerd\Tests;

use Geoworkerd\Exception\GeoworkerdException;
use Geoworkerd\Exception\InvalidArgument;
use Geoworkerd\Exception\JobCancelled;
use Geoworkerd\Exception\JobFailed;
use Geoworkerd\Exception\NotFound;
use Geoworkerd\Exception\Timeout;
use Geoworkerd\Job;

/**
 * The client against the real database, with no daemon: the other connection
 * ends jobs the way a job program does (an UPDATE of status that commits).
 */
final class ClientTest extends TestCase
{
    /** A job type no daemon runs, so that jobs stay where the test puts them. */
    private const TYPE = 'php_client_test';

    public function testEnqueueStoresEverythingAndJobReadsItBack(): void
    {
        $runAfter = new \DateTimeImmutable('+1 hour');
        $id = $this->client->enqueue(self::TYPE, ['input' => 'public.tracts', 'k' => 8, 'w' => 1.0,
            'name' => 'Zürich/Genève'], 3, $runAfter, 2);
        $job = $this->client->job($id);
        $this->assertSame($id, $job->id);
        $this->assertSame(self::TYPE, $job->type);
        $this->assertSame(Job::QUEUED, $job->status);
        // jsonb keeps its own key order.
        $this->assertEquals(['input' => 'public.tracts', 'k' => 8, 'name' => 'Zürich/Genève', 'w' => 1.0], $job->params);
        $this->assertSame(1.0, $job->params['w']);
        $this->assertSame(3, $job->priority);
        $this->assertSame(2, $job->maxAttempts);
        $this->assertNull($job->key);
        $this->assertSame($runAfter->getTimestamp(), $job->runAfter->getTimestamp());
        $this->assertNull($job->result);
        $this->assertNull($job->output());
        $this->assertFalse($job->isFinished());
        $this->assertSame(0.0, $job->progress);
    }

    public function testEmptyParamsAreAnEmptyObject(): void
    {
        $id = $this->client->enqueue(self::TYPE);
        $this->assertSame('{}', $this->sql('SELECT params::text FROM background_jobs WHERE id = $1', [$id]));
        $this->assertSame([], $this->client->job($id)->params);
    }

    /** @return array<string, array{0: callable}> */
    public static function badArguments(): array
    {
        return [
            'empty type' => [fn ($c) => $c->enqueue('', [])],
            'list params' => [fn ($c) => $c->enqueue(self::TYPE, [1, 2])],
            'max attempts 0' => [fn ($c) => $c->enqueue(self::TYPE, [], maxAttempts: 0)],
            'empty key' => [fn ($c) => $c->enqueue(self::TYPE, [], key: '')],
            // Not checked by the client: the database refuses it (SQLSTATE 22023).
            'params a JSON array' => [fn ($c) => $c->enqueue(self::TYPE, new class implements \JsonSerializable {
                public function jsonSerialize(): mixed
                {
                    return [1, 2];
                }
            })],
        ];
    }

    /** @dataProvider badArguments */
    public function testBadArgumentsAreRefused(callable $call): void
    {
        $before = $this->sql('SELECT count(*) FROM background_jobs');
        try {
            $call($this->client);
            $this->fail('no exception');
        } catch (InvalidArgument $e) {
            $this->assertInstanceOf(GeoworkerdException::class, $e);
        }
        $this->assertSame($before, $this->sql('SELECT count(*) FROM background_jobs'));
    }

    public function testAKeyReturnsTheLiveJobHoldingIt(): void
    {
        $key = self::unique('map');
        $a = $this->client->enqueue(self::TYPE, ['v' => 1], key: $key);
        $this->assertSame($a, $this->client->enqueue(self::TYPE, ['v' => 2], key: $key));
        $this->assertSame($key, $this->client->job($a)->key);
        $this->assertSame(['v' => 1], $this->client->job($a)->params, 'the first job is left as it was');
        $this->assertNotSame($a, $this->client->enqueue(self::TYPE . '_other', [], key: $key));
        $this->assertTrue($this->client->cancel($a));
        $b = $this->client->enqueue(self::TYPE, [], key: $key);
        $this->assertNotSame($a, $b, 'a cancelled job does not hold its key');
    }

    public function testCancelAndRetry(): void
    {
        $id = $this->client->enqueue(self::TYPE);
        $this->assertTrue($this->client->cancel($id));
        $this->assertSame(Job::CANCELLED, $this->client->job($id)->status);
        $this->assertNotNull($this->client->job($id)->completedAt);
        $this->assertFalse($this->client->cancel($id));
        $this->assertStringContainsString("job $id is already cancelled", (string) $this->client->lastNotice());

        $this->sql("UPDATE background_jobs SET status = 'failed', attempts = 2, error_message = 'boom' WHERE id = $1", [$id]);
        $this->assertTrue($this->client->retry($id));
        $job = $this->client->job($id);
        $this->assertSame([Job::QUEUED, 0, null], [$job->status, $job->attempts, $job->error]);
        $this->assertFalse($this->client->retry($id));
        $this->assertStringContainsString('only a failed or cancelled job can be retried', (string) $this->client->lastNotice());
    }

    public function testRetryRefusesAKeyALiveJobHolds(): void
    {
        $key = self::unique('k');
        $a = $this->client->enqueue(self::TYPE, [], key: $key);
        $this->client->cancel($a);
        $this->client->enqueue(self::TYPE, [], key: $key);
        $this->assertFalse($this->client->retry($a));
        $this->assertStringContainsString('holds its job_key', (string) $this->client->lastNotice());
    }

    public function testAMissingJobIsNotFound(): void
    {
        foreach (['job', 'cancel', 'retry', 'dismiss', 'keep'] as $method) {
            try {
                $this->client->$method(-42);
                $this->fail("$method: no exception");
            } catch (NotFound $e) {
                $this->assertSame(-42, $e->jobId, $method);
            }
        }
        $this->expectException(NotFound::class);
        $this->client->wait(-42, 1);
    }

    public function testWaitWakesOnTheNotification(): void
    {
        $id = $this->client->enqueue(self::TYPE);
        // Without the notification, wait() would not read the row again
        // before its timeout.
        $this->client->pollInterval = 60;
        $this->endLater($id, 'completed', "result = '{\"output\": \"analysis.out\", \"feature_count\": 3}'");
        $job = $this->client->wait($id, 30);
        $this->assertSame(Job::COMPLETED, $job->status);
        $this->assertEquals(['feature_count' => 3, 'output' => 'analysis.out'], $job->result);
        $this->assertSame('analysis.out', $job->output());
        $this->assertTrue($job->isCompleted() && $job->isFinished());
        pg_get_result($this->other);
    }

    public function testWaitThrowsJobFailedWithTheMessage(): void
    {
        $id = $this->client->enqueue(self::TYPE);
        $this->endLater($id, 'failed', "error_message = 'field \"pop\" is not numeric'");
        try {
            $this->client->wait($id, 30);
            $this->fail('no exception');
        } catch (JobFailed $e) {
            $this->assertSame('field "pop" is not numeric', $e->getMessage());
            $this->assertSame(Job::FAILED, $e->getJob()->status);
        }
        pg_get_result($this->other);
    }

    public function testWaitThrowsJobCancelled(): void
    {
        $id = $this->client->enqueue(self::TYPE);
        $this->endLater($id, 'cancelled');
        $this->expectException(JobCancelled::class);
        try {
            $this->client->wait($id, 30);
        } finally {
            pg_get_result($this->other);
        }
    }

    public function testWaitTimesOut(): void
    {
        $id = $this->client->enqueue(self::TYPE);
        $t0 = microtime(true);
        try {
            $this->client->wait($id, 0.5);
            $this->fail('no exception');
        } catch (Timeout $e) {
            $this->assertSame(Job::QUEUED, $e->getJob()->status);
            $this->assertGreaterThanOrEqual(0.5, microtime(true) - $t0);
        }
    }

    public function testWaitInsideATransactionPolls(): void
    {
        $id = $this->client->enqueue(self::TYPE);
        pg_query($this->client->connection(), 'BEGIN');
        $this->client->pollInterval = 0.1;
        $this->endLater($id, 'completed');
        $this->assertSame(Job::COMPLETED, $this->client->wait($id, 30)->status);
        pg_query($this->client->connection(), 'ROLLBACK');
        pg_get_result($this->other);
    }

    public function testDismissRemovesTheJobAndItsOutput(): void
    {
        $table = self::unique('php_out');
        $this->sql("CREATE TABLE analysis.$table AS SELECT 1 AS a");
        $id = (int) $this->sql("INSERT INTO background_jobs (job_type, status, result, completed_at)
            VALUES ($1, 'completed', jsonb_build_object('output', 'analysis.' || $2::text), now()) RETURNING id",
            [self::TYPE, $table]);
        $this->assertTrue($this->client->dismiss($id));
        $this->assertSame('f', $this->sql('SELECT to_regclass($1) IS NOT NULL', ["analysis.$table"]));
        $this->expectException(NotFound::class);
        $this->client->job($id);
    }

    public function testKeptOutputsSurviveDismiss(): void
    {
        $table = self::unique('php_kept');
        $this->sql("CREATE TABLE analysis.$table AS SELECT 1 AS a");
        $id = (int) $this->sql("INSERT INTO background_jobs (job_type, status, result, completed_at)
            VALUES ($1, 'completed', jsonb_build_object('output', 'analysis.' || $2::text), now()) RETURNING id",
            [self::TYPE, $table]);
        $this->assertTrue($this->client->keep($id));
        $this->assertTrue($this->client->job($id)->result['keep']);
        $this->assertTrue($this->client->dismiss($id));
        $this->assertSame('t', $this->sql('SELECT to_regclass($1) IS NOT NULL', ["analysis.$table"]));
        $queued = $this->client->enqueue(self::TYPE);
        $this->assertFalse($this->client->keep($queued));
    }

    /**
     * Ends job $id from the other connection 0.3 s from now, without
     * blocking: the caller collects the result with pg_get_result.
     */
    private function endLater(int $id, string $status, string $set = ''): void
    {
        $this->assertTrue(pg_send_query($this->other, sprintf(
            "SELECT pg_sleep(0.3); UPDATE background_jobs SET status = '%s', completed_at = now()%s WHERE id = %d",
            $status, $set === '' ? '' : ", $set", $id)));
    }
}
