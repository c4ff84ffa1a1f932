
/*
 * keyauth for NGINX: what "nginx -t" (and every start or reload) judges
 * before a worker exists, so that a mistake fails the configuration
 * instead of answering every request with 500 or checking nothing.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_keyauth_module.h"


/* the registry directory of "keyauth_registry", judged without opening it */

ngx_int_t
ngx_http_keyauth_check_registry(ngx_conf_t *cf, ngx_str_t *path)
{
    u_char           err[256];
    ngx_file_info_t  fi;

    /* the registry itself is opened by each worker, after fork */

    if (ngx_file_info(path->data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "keyauth registry \"%V\" not found", path);
        return NGX_ERROR;
    }

    if (!ngx_is_dir(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "keyauth registry \"%V\" is not a directory",
                           path);
        return NGX_ERROR;
    }

    if (keyauth_registry_check((const char *) path->data, (char *) err,
                               sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "keyauth registry \"%V\" cannot be used: %s",
                           path, err);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A location with "keyauth" or "keyauth_client_cert" on, while merging
 * (cf->ctx holds its server and location): what it needs of its server.
 */

ngx_int_t
ngx_http_keyauth_check_location(ngx_conf_t *cf,
    ngx_http_keyauth_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_keyauth_srv_conf_t   *kscf;
#if (NGX_HTTP_SSL)
    ngx_http_ssl_srv_conf_t       *sscf;
#endif

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    kscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_keyauth_module);

    if (kscf->registry == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" is on in location \"%V\" but its server has "
                      "no \"keyauth_registry\"",
                      conf->token ? "keyauth" : "keyauth_client_cert",
                      &clcf->name);
        return NGX_ERROR;
    }

    if (!conf->client_cert) {
        return NGX_OK;
    }

#if (NGX_HTTP_SSL)

    sscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_ssl_module);

    if (sscf->verify) {
        return NGX_OK;
    }

#endif

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"keyauth_client_cert\" is on in location \"%V\" but its "
                  "server has no \"ssl_verify_client\"", &clcf->name);

    return NGX_ERROR;
}


/*
 * A registry the workers' user cannot read would pass "nginx -t" and then
 * answer every request with 500: judge it here, at configuration time (a
 * failed reload keeps the running configuration), with the user and groups
 * the workers will have. The "user" directive precedes "http" in any sane
 * nginx.conf; without one, a master started as root uses nginx's default.
 */

ngx_int_t
ngx_http_keyauth_check_workers_access(ngx_conf_t *cf,
    ngx_http_keyauth_registry_t *registry)
{
    char              *user;
    u_char             err[NGX_MAX_ERROR_STR];
    ngx_uid_t          uid;
    ngx_gid_t          gid;
    struct group      *grp;
    struct passwd     *pwd;
    ngx_core_conf_t   *ccf;

    if (geteuid() != 0) {
        return NGX_OK;    /* the workers will be this user: already judged */
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    if (ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT) {
        user = ccf->username;
        uid = ccf->user;
        gid = ccf->group;

    } else {
        user = NGX_USER;
        pwd = getpwnam(NGX_USER);
        grp = getgrnam(NGX_GROUP);

        if (pwd == NULL || grp == NULL) {
            return NGX_OK;    /* nginx itself will say so */
        }

        uid = pwd->pw_uid;
        gid = grp->gr_gid;
    }

    /* the path is NUL-terminated: keyauth_registry_check() was given it */

    if (keyauth_registry_check_workers_user((const char *) registry->path.data,
                                            user, uid, gid, (char *) err,
                                            sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "keyauth registry %s", err);
        return NGX_ERROR;
    }

    return NGX_OK;
}
