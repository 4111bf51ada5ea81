<?php

declare(strict_types=1);

namespace Geoworkerd\Tests;

use Geoworkerd\Exception\JobCancelled;
use Geoworkerd\Exception\JobFailed;
use Geoworkerd\Exception\NotFound;
use Geoworkerd\Job;

/**
 * Real jobs through the real daemon: t/500-php-client.t starts geoworkerd
 * with the test job program (children/selftest) as type "selftest" and sets
 * GEOWORKERD_DAEMON=1.
 *
 * @group daemon
 */
final class DaemonTest extends TestCase
{
    protected function setUp(): void
    {
        if (getenv('GEOWORKERD_DAEMON') !== '1') {
            $this->markTestSkipped('no daemon: run through t/500-php-client.t');
        }
        parent::setUp();
    }

    public function testARealJobRunsReportsProgressAndIsDismissed(): void
    {
        $table = self::unique('php_real');
        $id = $this->client->enqueue('selftest', ['sleep' => 4, 'progress' => 8, 'table' => $table,
            'result' => ['output' => "analysis.$table", 'feature_count' => 1]], key: $table);
        $seen = [];
        $job = $this->client->wait($id, 60, function (Job $j) use (&$seen): void {
            $seen[] = [$j->status, $j->progress, $j->progressMessage];
        });
        $this->assertSame(Job::COMPLETED, $job->status);
        $this->assertSame(1, $job->attempts);
        $this->assertSame(1.0, $job->progress);
        $this->assertIsInt($job->result['pid']);
        $this->assertSame("analysis.$table", $job->output());
        $running = array_filter($seen, fn ($s) => $s[0] === Job::RUNNING && $s[1] > 0 && $s[1] < 1);
        $this->assertNotEmpty($running, 'progress between 0 and 1 was seen while it ran: ' . json_encode($seen));
        $this->assertMatchesRegularExpression('/^step \d of 8$/', (string) array_values($running)[0][2]);
        $this->assertSame('t', $this->sql('SELECT to_regclass($1) IS NOT NULL', ["analysis.$table"]),
            'the job made its table');

        $this->assertTrue($this->client->dismiss($id));
        $this->assertSame('f', $this->sql('SELECT to_regclass($1) IS NOT NULL', ["analysis.$table"]),
            'dismiss dropped it');
        $this->expectException(NotFound::class);
        $this->client->job($id);
    }

    public function testARealFailureIsJobFailed(): void
    {
        $id = $this->client->enqueue('selftest', ['fail' => 'parameter \'field\': no column "pop" in public.tracts']);
        try {
            $this->client->wait($id, 60);
            $this->fail('no exception');
        } catch (JobFailed $e) {
            $this->assertSame('parameter \'field\': no column "pop" in public.tracts', $e->getMessage());
        }
        $this->assertTrue($this->client->retry($id), 'a failed job can be retried');
        $this->expectException(JobFailed::class);
        $this->client->wait($id, 60);
    }

    public function testCancellingARunningJobEndsItsWait(): void
    {
        $table = self::unique('php_cancel');
        $id = $this->client->enqueue('selftest', ['sleep' => 30, 'table' => $table]);
        $deadline = microtime(true) + 30;
        while ($this->client->job($id)->status !== Job::RUNNING && microtime(true) < $deadline) {
            usleep(50000);
        }
        $this->assertSame(Job::RUNNING, $this->client->job($id)->status);
        $this->assertTrue($this->client->cancel($id));
        try {
            $this->client->wait($id, 5);
            $this->fail('no exception');
        } catch (JobCancelled $e) {
            $this->assertSame(Job::CANCELLED, $e->getJob()->status);
        }
        $this->assertSame('f', $this->sql('SELECT to_regclass($1) IS NOT NULL', ["analysis.$table"]),
            'a cancelled job leaves no output');
    }
}
