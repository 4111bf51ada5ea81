<?php

declare(strict_types=1);

namespace Geoworkerd;

/**
 * A background_jobs row as the application sees it, read at one moment.
 * JSON columns are decoded to arrays; times are DateTimeImmutable (or null).
 */
final class Job
{
    public const QUEUED = 'queued';
    public const RUNNING = 'running';
    public const COMPLETED = 'completed';
    public const FAILED = 'failed';
    public const CANCELLED = 'cancelled';

    /**
     * $attempts: the attempts that count against $maxAttempts (a run cut
     * short by a shutdown or a database outage does not, nor do the runs
     * before a retry); $runs: every run started, which never goes down.
     *
     * @param array<string, mixed>      $params
     * @param array<string, mixed>|null $result
     */
    public function __construct(
        public readonly int $id,
        public readonly string $type,
        public readonly string $status,
        public readonly array $params,
        public readonly ?array $result,
        public readonly ?string $error,
        public readonly float $progress,
        public readonly ?string $progressMessage,
        public readonly int $priority,
        public readonly int $attempts,
        public readonly ?int $maxAttempts,
        public readonly ?string $key,
        public readonly ?\DateTimeImmutable $createdAt,
        public readonly ?\DateTimeImmutable $runAfter,
        public readonly ?\DateTimeImmutable $startedAt,
        public readonly ?\DateTimeImmutable $completedAt,
        public readonly int $runs = 0,
    ) {
    }

    /**
     * Builds a Job from a row of the query Client::job() runs (every column
     * as text, as ext-pgsql returns it).
     *
     * @param array<string, string|null> $row
     */
    public static function fromRow(array $row): self
    {
        $json = static function (?string $s): ?array {
            if ($s === null) {
                return null;
            }
            $v = json_decode($s, true, 512, JSON_THROW_ON_ERROR);
            return is_array($v) ? $v : ['value' => $v];
        };
        $time = static fn (?string $s): ?\DateTimeImmutable =>
            $s === null ? null : new \DateTimeImmutable($s);

        return new self(
            (int) $row['id'],
            (string) $row['job_type'],
            (string) $row['status'],
            $json($row['params']) ?? [],
            $json($row['result']),
            $row['error_message'],
            (float) $row['progress'],
            $row['progress_message'],
            (int) $row['priority'],
            (int) $row['attempts'],
            $row['max_attempts'] === null ? null : (int) $row['max_attempts'],
            $row['job_key'],
            $time($row['created_at']),
            $time($row['run_after']),
            $time($row['started_at']),
            $time($row['completed_at']),
            (int) ($row['runs'] ?? $row['attempts']),
        );
    }

    /** True once the job has ended: completed, failed or cancelled. */
    public function isFinished(): bool
    {
        return in_array($this->status, [self::COMPLETED, self::FAILED, self::CANCELLED], true);
    }

    public function isCompleted(): bool
    {
        return $this->status === self::COMPLETED;
    }

    /**
     * Where the result is: "schema.table" for a table or view, a file path
     * for raster_clip; null before completion.
     */
    public function output(): ?string
    {
        $out = $this->result['output'] ?? null;
        return is_string($out) ? $out : null;
    }
}
