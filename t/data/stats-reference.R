# t/data/stats-reference.R: reference Gi* and Local Moran's I from R spdep,
# for the tests of hotspot_analysis and outlier_analysis.
#
#   Rscript stats-reference.R cases.csv out.csv
#
# cases.csv: case,file,field,concept,k,distance[,snap] (one analysis a
# line, the concepts named as the job parameter; snap: poly2nb's, NA or
# absent for its default, "geos" for the job's exact GEOS rule).  out.csv: one line per case and
# feature (features numbered 1..n in file order): the neighbour count and
# spdep's localG (include.self, binary or inverse-distance weights) and
# localmoran (mlvar = FALSE, conditional = FALSE, two-sided) with row
# standardized (W) and unstandardized (B) weights.
#
# Neighbours: spdep's own dnearneigh / knearneigh / poly2nb for planar
# data.  For geographic data spdep measures great circles on a sphere, while
# the job measures geodesics on the CRS's ellipsoid (as the SPEC asks), so
# there the neighbours come from sf::st_distance with s2 off, which is
# GeographicLib's ellipsoidal geodesic (lwgeom).  Centroids are GEOS's
# (st_centroid with s2 off), planar on longitude/latitude for geographic
# data, as the job computes them.  NY8 has 5 invalid tracts: repaired as
# the job repairs them (see below).
suppressPackageStartupMessages({
	library(sf)
	library(spdep)
})
sf_use_s2(FALSE)
args <- commandArgs(TRUE)
cases <- read.csv(args[1], stringsAsFactors = FALSE)
res <- list()
for (r in seq_len(nrow(cases))) {
	cs <- cases[r, ]
	x <- st_read(cs$file, quiet = TRUE)
	# The job repairs invalid geometries (GEOSMakeValid) before taking
	# centroids and contiguity; so does the reference (sf calls the same
	# GEOS function: GEOSMakeValid, the "linework" method), on the invalid ones
	# only.
	bad <- !st_is_valid(x)
	if (any(bad))
		st_geometry(x)[bad] <- st_make_valid(st_geometry(x)[bad],
		    geos_method = "valid_linework")
	v <- as.numeric(x[[cs$field]])
	n <- nrow(x)
	ll <- isTRUE(st_is_longlat(x))
	cen <- suppressWarnings(st_centroid(st_geometry(x)))
	xy <- st_coordinates(cen)[, 1:2]
	D <- if (ll) matrix(as.numeric(st_distance(cen)), n, n) else
	    as.matrix(dist(xy))
	Dn <- D
	diag(Dn) <- Inf
	mknb <- function(l) {
		l <- lapply(l, function(w) if (length(w)) sort(as.integer(w)) else 0L)
		class(l) <- "nb"
		attr(l, "region.id") <- as.character(1:n)
		attr(l, "sym") <- is.symmetric.nb(l, FALSE, TRUE)
		l
	}
	concept <- cs$concept
	if (concept %in% c("fixed_distance", "inverse_distance",
	    "inverse_distance_squared")) {
		band <- if (is.na(cs$distance)) max(apply(Dn, 1, min)) else
		    cs$distance
		if (ll)
			nb <- mknb(lapply(1:n, function(i) which(Dn[i, ] <= band)))
		else
			nb <- dnearneigh(xy, 0, band * (1 + 1e-9))
	} else if (concept == "k_nearest") {
		if (ll)
			nb <- mknb(lapply(1:n, function(i) order(Dn[i, ])[1:cs$k]))
		else
			nb <- knn2nb(knearneigh(xy, k = cs$k))
	} else {
		queen <- concept == "contiguity_edges_corners"
		snap <- if (is.null(cs$snap)) NA else as.character(cs$snap)
		if (identical(snap, "geos")) {
			# The job's exact rule (snap 0), from GEOS through sf:
			# queen, the polygons intersect; rook, their
			# boundaries share a segment or their interiors
			# overlap.
			p <- if (queen) st_intersects(x) else
			    mapply(union, st_relate(x, pattern = "2********"),
			    st_relate(x, pattern = "****1****"), SIMPLIFY = FALSE)
			nb <- mknb(lapply(1:n, function(i) setdiff(p[[i]], i)))
		} else
			nb <- poly2nb(x, queen = queen, snap = if (is.na(snap))
			    sqrt(.Machine$double.eps) else as.numeric(snap))
	}
	wfun <- switch(concept,
	    inverse_distance = function(d) 1 / pmax(d, 1),
	    inverse_distance_squared = function(d) 1 / pmax(d, 1)^2,
	    function(d) rep(1, length(d)))
	glist <- function(nbl) lapply(seq_len(n), function(i)
	    if (nbl[[i]][1] == 0L) numeric(0) else wfun(D[i, nbl[[i]]]))
	nbs <- include.self(nb)
	lws <- nb2listw(nbs, glist = glist(nbs), style = "B", zero.policy = TRUE)
	g <- as.numeric(localG(v, lws, zero.policy = TRUE))
	lmw <- localmoran(v, nb2listw(nb, glist = glist(nb), style = "W",
	    zero.policy = TRUE), zero.policy = TRUE, mlvar = FALSE,
	    conditional = FALSE, alternative = "two.sided")
	lmb <- localmoran(v, nb2listw(nb, glist = glist(nb), style = "B",
	    zero.policy = TRUE), zero.policy = TRUE, mlvar = FALSE,
	    conditional = FALSE, alternative = "two.sided")
	res[[r]] <- data.frame(case = cs$case, id = 1:n, value = v,
	    card = card(nb), gi_z = g, gi_p = 2 * pnorm(-abs(g)),
	    w_i = lmw[, 1], w_z = lmw[, 4], w_p = lmw[, 5],
	    b_i = lmb[, 1], b_z = lmb[, 4], b_p = lmb[, 5])
}
write.csv(do.call(rbind, res), args[2], row.names = FALSE)
