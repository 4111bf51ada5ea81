<?php

declare(strict_types=1);

namespace Geoworkerd\Exception;

/** There is no job with that id (never queued, or dismissed or expired). */
final class NotFound extends \RuntimeException implements GeoworkerdException
{
    public function __construct(public readonly int $jobId)
    {
        parent::__construct("there is no job $jobId");
    }
}
