<?php

declare(strict_types=1);

namespace Geoworkerd\Exception;

use Geoworkerd\Job;

/** The job was cancelled (by cancel(), dismiss(), or an UPDATE) before it completed. */
final class JobCancelled extends JobException
{
    public function __construct(Job $job)
    {
        parent::__construct("job {$job->id} was cancelled", $job);
    }
}
