<?php

declare(strict_types=1);

namespace Geoworkerd\Exception;

use Geoworkerd\Job;

/** The job failed; the message is its error_message, meant for a GIS user. */
final class JobFailed extends JobException
{
    public function __construct(Job $job)
    {
        parent::__construct($job->error ?? "job {$job->id} failed", $job);
    }
}
