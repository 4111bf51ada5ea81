<?php

declare(strict_types=1);

namespace Geoworkerd\Exception;

use Geoworkerd\Job;

/**
 * wait() gave up: the job is still queued or running (getJob() shows its
 * progress).  The job itself goes on; wait again, or cancel it.
 */
final class Timeout extends JobException
{
    public function __construct(Job $job, float $seconds)
    {
        parent::__construct(sprintf('job %d is still %s after %.3g s', $job->id, $job->status, $seconds), $job);
    }
}
