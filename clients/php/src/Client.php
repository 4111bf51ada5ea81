<?php

declare(strict_types=1);

namespace Geoworkerd;

use Geoworkerd\Exception\DatabaseError;
use Geoworkerd\Exception\InvalidArgument;
use Geoworkerd\Exception\JobCancelled;
use Geoworkerd\Exception\JobFailed;
use Geoworkerd\Exception\NotFound;
use Geoworkerd\Exception\Timeout;

/**
 * The application's side of geoworkerd: queue a job, wait for its end, read
 * it, cancel, retry, keep or dismiss it.  Every call is one statement on the
 * given connection, through the SQL API of sql/geoworkerd.sql
 * (doc/application.md); nothing else is needed than ext-pgsql.
 *
 * wait() LISTENs on geoworkerd_done, so the connection must not be used by
 * another thread of control meanwhile, and should not be inside a transaction
 * (notifications arrive between transactions; inside one, wait() polls once a
 * second instead).  Errors are exceptions implementing
 * Exception\GeoworkerdException.
 */
final class Client
{
    /** How often wait() reads the row even without a notification, in seconds. */
    public float $pollInterval = 1.0;

    private bool $listening = false;

    public function __construct(private readonly \PgSql\Connection $conn)
    {
    }

    /** Opens a connection of its own ("dbname=gis user=web_app", or "" for the PG* environment). */
    public static function connect(string $conninfo = ''): self
    {
        $conn = @pg_connect($conninfo, PGSQL_CONNECT_FORCE_NEW);
        if ($conn === false) {
            $err = error_get_last();
            throw new DatabaseError('cannot connect to the database: ' . ($err['message'] ?? 'unknown error'));
        }
        return new self($conn);
    }

    public function connection(): \PgSql\Connection
    {
        return $this->conn;
    }

    /**
     * Queues a job and returns its id.  With a key, a queued or running job of
     * the same type holding that key is returned instead of a new one (a
     * double-clicked "Run" starts one analysis).
     *
     * @param array<string, mixed>|\JsonSerializable|\stdClass $params the job's parameters (a JSON object)
     */
    public function enqueue(
        string $type,
        array|\JsonSerializable|\stdClass $params = [],
        int $priority = 0,
        ?\DateTimeInterface $runAfter = null,
        ?int $maxAttempts = null,
        ?string $key = null,
    ): int {
        if ($type === '') {
            throw new InvalidArgument('job type must be a non-empty string');
        }
        if (is_array($params) && $params !== [] && array_is_list($params)) {
            throw new InvalidArgument('params must be an associative array (a JSON object), not a list');
        }
        if ($maxAttempts !== null && $maxAttempts < 1) {
            throw new InvalidArgument("maxAttempts must be null or at least 1, not $maxAttempts");
        }
        if ($key === '') {
            throw new InvalidArgument('key must be null or a non-empty string');
        }
        $json = $params === [] ? '{}' : json_encode($params, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES
            | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
        $res = $this->query(
            'SELECT geoworkerd_enqueue($1, $2::jsonb, $3::integer, $4::timestamptz, $5::integer, $6)',
            [$type, $json, $priority, $runAfter?->format('Y-m-d\TH:i:s.uP'), $maxAttempts, $key],
        );
        return (int) pg_fetch_result($res, 0, 0);
    }

    /** The job as it is now.  Throws NotFound if there is no such job. */
    public function job(int $id): Job
    {
        $res = $this->query(
            'SELECT id, job_type, status, params::text AS params, result::text AS result,
                    error_message, progress, progress_message, priority,
                    attempts - free_attempts AS attempts, attempts AS runs,
                    max_attempts, job_key,
                    to_json(created_at::timestamptz) #>> \'{}\' AS created_at,
                    to_json(run_after) #>> \'{}\' AS run_after,
                    to_json(started_at) #>> \'{}\' AS started_at,
                    to_json(completed_at) #>> \'{}\' AS completed_at
             FROM background_jobs WHERE id = $1',
            [$id],
        );
        $row = pg_fetch_assoc($res);
        if ($row === false) {
            throw new NotFound($id);
        }
        return Job::fromRow($row);
    }

    /**
     * Waits until the job ends and returns it completed.  Throws JobFailed or
     * JobCancelled (with the job) if it ended otherwise, Timeout if it is still
     * queued or running after $timeoutSeconds, NotFound if it does not exist
     * (or was dismissed meanwhile).  $onProgress, if given, is called with
     * the Job each time wait() reads it while it is queued or running (at
     * least once a second, and at each notification about it).
     */
    public function wait(int $id, float $timeoutSeconds, ?callable $onProgress = null): Job
    {
        $deadline = microtime(true) + $timeoutSeconds;
        $inTransaction = pg_transaction_status($this->conn) !== PGSQL_TRANSACTION_IDLE;
        if (!$inTransaction && !$this->listening) {
            $this->query('LISTEN geoworkerd_done', []);
            $this->listening = true;
        }
        $socket = $inTransaction ? false : @pg_socket($this->conn);
        // Read the row after LISTEN: an end that commits in between is seen
        // either by this read or by a notification.
        while (true) {
            $job = $this->job($id);
            if ($job->status === Job::COMPLETED) {
                return $job;
            }
            if ($job->status === Job::FAILED) {
                throw new JobFailed($job);
            }
            if ($job->status === Job::CANCELLED) {
                throw new JobCancelled($job);
            }
            if ($onProgress !== null) {
                $onProgress($job);
            }
            $left = $deadline - microtime(true);
            if ($left <= 0) {
                throw new Timeout($job, $timeoutSeconds);
            }
            $this->sleepUntilNotified($id, $socket, min($left, $this->pollInterval));
        }
    }

    /**
     * Cancels a queued or running job (the daemon kills its process; it leaves
     * no output).  Returns false if the job had already ended (lastNotice()
     * says how); throws NotFound if there is no such job.
     */
    public function cancel(int $id): bool
    {
        return $this->call('geoworkerd_cancel', $id);
    }

    /**
     * Queues a failed or cancelled job again, its attempts reset.  Returns
     * false if the job is in another state, or another live job now holds its
     * key (lastNotice() says which); throws NotFound if there is no such job.
     */
    public function retry(int $id): bool
    {
        return $this->call('geoworkerd_retry', $id);
    }

    /**
     * Deletes the job and its outputs (tables, views, files), cancelling it
     * first if it is queued or running.  Outputs marked with keep() stay.
     * Throws NotFound if there is no such job.
     */
    public function dismiss(int $id): bool
    {
        return $this->call('geoworkerd_dismiss', $id);
    }

    /**
     * Takes over a completed job's outputs: dismiss and retention will delete
     * the job but leave its tables, views and files.  Returns false if the job
     * is not completed.
     */
    public function keep(int $id): bool
    {
        return $this->call('geoworkerd_keep', $id);
    }

    /**
     * The NOTICE of the last cancel(), retry(), dismiss() or keep(): why it
     * returned false.  Null if there was none, or if client_min_messages is
     * above notice on this connection.
     */
    public function lastNotice(): ?string
    {
        $n = pg_last_notice($this->conn);
        return is_string($n) && $n !== '' ? trim(preg_replace('/^NOTICE:\s*/', '', $n)) : null;
    }

    private function call(string $function, int $id): bool
    {
        pg_last_notice($this->conn, PGSQL_NOTICE_CLEAR);
        $res = $this->query("SELECT $function(\$1)", [$id]);
        if (pg_fetch_result($res, 0, 0) === 't') {
            return true;
        }
        $exists = $this->query('SELECT 1 FROM background_jobs WHERE id = $1', [$id]);
        if (pg_num_rows($exists) === 0) {
            throw new NotFound($id);
        }
        return false;
    }

    /**
     * Blocks until a notification arrives on the socket or $seconds pass;
     * returns true if one was about job $id.  Without a socket (inside a
     * transaction), just sleeps.
     *
     * @param resource|false $socket
     */
    private function sleepUntilNotified(int $id, $socket, float $seconds): bool
    {
        if ($this->drainNotifications($id)) {
            return true;
        }
        if ($socket === false) {
            usleep((int) ($seconds * 1e6));
            return false;
        }
        $deadline = microtime(true) + $seconds;
        while (($left = $deadline - microtime(true)) > 0) {
            $read = [$socket];
            $write = $except = null;
            $n = @stream_select($read, $write, $except, (int) $left, (int) (fmod($left, 1.0) * 1e6));
            if ($n === false) {            // interrupted by a signal: read the row again
                return false;
            }
            if ($n === 0) {
                return false;
            }
            if (!pg_consume_input($this->conn)) {
                throw new DatabaseError('reading notifications: ' . pg_last_error($this->conn));
            }
            if ($this->drainNotifications($id)) {
                return true;
            }
        }
        return false;
    }

    /** Takes every pending notification; true if one was the end of job $id. */
    private function drainNotifications(int $id): bool
    {
        $ours = false;
        while (($n = pg_get_notify($this->conn, PGSQL_ASSOC)) !== false) {
            if (($n['message'] ?? '') !== 'geoworkerd_done') {
                continue;
            }
            $payload = json_decode($n['payload'] ?? '', true);
            if (is_array($payload) && (int) ($payload['id'] ?? 0) === $id) {
                $ours = true;
            }
        }
        return $ours;
    }

    /**
     * Runs one statement with parameters; returns its result or throws
     * DatabaseError (InvalidArgument for SQLSTATE 22023, what the SQL API
     * raises for a bad argument).
     *
     * @param list<mixed> $params
     */
    private function query(string $sql, array $params): \PgSql\Result
    {
        if (!@pg_send_query_params($this->conn, $sql, $params)) {
            throw new DatabaseError(trim(pg_last_error($this->conn)));
        }
        $result = null;
        $error = null;
        // Read every result so that the connection is ready for the next query.
        while (($res = pg_get_result($this->conn)) !== false) {
            $status = pg_result_status($res);
            if ($status === PGSQL_TUPLES_OK || $status === PGSQL_COMMAND_OK) {
                $result ??= $res;
                continue;
            }
            $error ??= [
                trim((string) pg_result_error_field($res, PGSQL_DIAG_MESSAGE_PRIMARY)) ?: trim(pg_result_error($res)),
                pg_result_error_field($res, PGSQL_DIAG_SQLSTATE) ?: null,
            ];
        }
        if ($error !== null) {
            if ($error[1] === '22023') {
                throw new InvalidArgument($error[0]);
            }
            throw new DatabaseError($error[0], $error[1]);
        }
        if ($result === null) {
            throw new DatabaseError('no result from the database: ' . trim(pg_last_error($this->conn)));
        }
        return $result;
    }
}
