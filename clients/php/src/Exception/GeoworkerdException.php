<?php

declare(strict_types=1);

namespace Geoworkerd\Exception;

/**
 * Every exception this client throws implements it:
 * catch (GeoworkerdException $e) catches them all.
 */
interface GeoworkerdException extends \Throwable
{
}
