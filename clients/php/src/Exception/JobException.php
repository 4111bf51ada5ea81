<?php

declare(strict_types=1);

namespace Geoworkerd\Exception;

use Geoworkerd\Job;

/** What wait() throws when the job did not complete: the job as last read. */
abstract class JobException extends \RuntimeException implements GeoworkerdException
{
    public function __construct(string $message, public readonly Job $job)
    {
        parent::__construct($message);
    }

    public function getJob(): Job
    {
        return $this->job;
    }
}
